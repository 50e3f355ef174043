//! The organisation's scan, offline. One emulator plays three accounts in two regions each;
//! the hub's state machine (org/scan-organisation.asl.json, validated by asl-validator in
//! scripts/test) cannot run here (LocalStack runs Lambda only in a container engine), so this
//! test drives its Distributed Map from the definition itself: each child's input is computed
//! from the map's own ItemSelector, each child runs the scanner under cargo lambda (assuming
//! the spoke's read role through LocalStack's STS), and each result is shaped by the task's
//! own ResultSelector or, on failure, its Catch.

use serde_json::{Value, json};
use watchdog_tests::asl::{Child, definition, map_children, map_output, select, task_output, task_payload};
use watchdog_tests::lambda::{LambdaWatch, organizations_url, workspace_root};
use watchdog_tests::organizations::Studio;
use watchdog_tests::quick_config;
use watchdog_tests::stage::Stage;
use watchdog_tests::template_signals::{alarm_metrics, dashboard, published_metrics, template, unpublished};

const SCANNER: &str = "gls-watchdog-scanner";
const ACCOUNTS: [&str; 3] = ["111122223333", "222233334444", "333344445555"];
const REGIONS: [&str; 2] = ["us-west-2", "eu-central-1"];

/// Each account's owning team (the groups' `team` tag): the first account's is racing.
fn team(account: &str) -> &'static str {
    if account == ACCOUNTS[0] { "racing" } else { "tactics" }
}

/// One group in each region of `account`, named after both, tagged with its team.
fn fleet(account: &str) -> String {
    let mut text = String::from("[[applications]]\nkey = \"racer\"\ndescription = \"Racer\"\n");
    for region in REGIONS {
        text.push_str(&format!(
            "\n[[applications]]\nkey = \"racer-{region}\"\ndescription = \"Racer\"\nregion = \"{region}\"\n\n[[stream_groups]]\nid = \"sg-{}{}\"\ndescription = \"{account} {region}\"\nregion = \"{region}\"\nstream_class = \"gen5n_ultra\"\ncreated_days_ago = 30\napplications = [\"racer-{region}\"]\ntags = {{ team = \"{}\" }}\n  [[stream_groups.locations]]\n  name = \"{region}\"\n  always_on = 1\n",
            &account[..4],
            region.replace('-', "").to_uppercase(),
            team(account),
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_is_scanned_with_its_own_role_and_a_refused_account_is_named_while_the_others_complete() {
    let stage = Stage::start(quick_config(), None).await;
    let (emu, aws) = (&stage.emu, &stage.aws);
    for account in ACCOUNTS {
        emu.load_fleet_of(account, fleet(account)).await;
    }
    // The third account's role lacks the permission (or its spoke was never deployed).
    emu.admin_ok("/_emulator/access", json!({ "account": ACCOUNTS[2], "denied": true })).await;

    let (bus, events_queue) = stage.bus("watchdog-org").await;
    let (digest_topic, digest_queue) = stage.topic("watchdog-org-digest").await;
    let namespace = stage.namespace("Org");
    let regions = REGIONS.join(",");
    let env = stage.env(
        "Org",
        &[
            ("EVENT_BUS_NAME", &bus),
            ("DIGEST_TOPIC_ARN", &digest_topic),
            ("REGIONS", &regions),
            ("ALERT_MEMORY", "none"),
            ("MAX_ATTEMPTS", "1"),
            ("OWNER_TAG_KEY", "team"),
        ],
    );
    let watch = LambdaWatch::start("organisation", &env);

    let definition = definition("gls-watchdog-read", SCANNER);
    let map = &definition["States"]["ScanTargets"];
    assert_eq!(map["ItemProcessor"]["ProcessorConfig"]["Mode"], "DISTRIBUTED");
    assert_eq!(map["ToleratedFailurePercentage"], 100, "one target's failure never fails the others");
    let task = &map["ItemProcessor"]["States"]["ScanOneTarget"];
    // The schedule's input (org/hub.yaml), listed by the first state: every target once.
    let mut targets: Vec<Value> =
        ACCOUNTS.iter().flat_map(|a| REGIONS.map(|r| json!({ "account": a, "region": r }))).collect();
    targets.push(targets[0].clone());
    let execution_input = json!({
        "targets": targets, "organizational_units": [], "child_units": true, "max_concurrency": 3,
    });
    let list_state = &definition["States"][definition["StartAt"].as_str().unwrap()];
    assert_eq!(list_state["Next"], "ScanTargets");
    let listed = watch.invoke(SCANNER, &task_payload(list_state, &execution_input)).await.expect("the target list");
    let map_input = task_output(list_state, &execution_input, &listed);
    let children = map_children(&definition, &map_input);
    assert_eq!(children.len(), 6, "a target named twice is scanned once: {listed:#}");

    let mut results = Vec::new();
    for Child { item, input: child_input, payload } in &children {
        assert_eq!(task["Parameters"]["FunctionName"], SCANNER);
        let result = match watch.invoke(SCANNER, payload).await {
            Ok(report) => {
                // Read with the target's own credentials: every group it found is that account's.
                let account = item["account"].as_str().unwrap();
                let arns: Vec<&str> = report["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|f| f["stream_group_arn"].as_str())
                    .collect();
                assert!(!arns.is_empty(), "a 30-day-old group is due for rotation: {report:#}");
                assert!(
                    arns.iter().all(|arn| arn.contains(&format!(":{account}:streamgroup/"))),
                    "{account}: {arns:?}"
                );
                // The calls made with the assumed role are the target's, counted in its report
                // (its ApiCalls and Throttles metrics come from the same count).
                for operation in ["ListStreamGroups", "GetStreamGroup"] {
                    let attempts = report["api_calls"][operation]["attempts"].as_u64().unwrap_or(0);
                    assert!(attempts >= 1, "{account}: {operation} not counted: {}", report["api_calls"]);
                }
                select(&task["ResultSelector"], &json!({ "Payload": report }), &Value::Null)
            }
            Err(error) => {
                // The task's Catch puts the error at its ResultPath; TargetFailed shapes it.
                let catch = &task["Catch"][0];
                assert_eq!(catch["ResultPath"], "$.error");
                let mut failed_input = child_input.clone();
                failed_input["error"] = json!({ "Error": "Lambda.Unknown", "Cause": error });
                let failed = &map["ItemProcessor"]["States"][catch["Next"].as_str().unwrap()];
                select(&failed["Parameters"], &failed_input, &Value::Null)
            }
        };
        results.push(result);
    }

    let succeeded: Vec<&Value> = results.iter().filter(|r| r["failed"] != true).collect();
    // The results go to S3; the execution's state (at most 256 KiB) holds the target list:
    // docs/organisation.md counts on at most 53 bytes a listed target.
    for target in map_input["listed"]["targets"].as_array().unwrap() {
        // The same item in the Region with the longest name, with the comma that follows it.
        let mut longest = target.clone();
        longest["region"] = json!("ap-southeast-5");
        assert!(longest.to_string().len() < 53, "{target}");
    }
    let failed: Vec<&Value> = results.iter().filter(|r| r["failed"] == true).collect();
    assert_eq!(succeeded.len(), 4, "{results:#?}");
    assert_eq!(failed.len(), 2, "both regions of the refused account: {results:#?}");
    for result in &succeeded {
        assert_eq!(result["counts"]["stream_groups"], 1, "its own account's group only: {result}");
        assert_ne!(result["target"]["account"], ACCOUNTS[2]);
    }
    for result in &failed {
        assert_eq!(result["target"]["account"], ACCOUNTS[2], "named by account: {result}");
        assert!(result["cause"].as_str().unwrap().contains("AccessDenied"), "{result}");
    }
    // Each target was read with its own account's credentials, from the assumed role.
    let targets: Vec<(String, String)> = succeeded
        .iter()
        .map(|r| {
            (r["target"]["account"].as_str().unwrap().to_owned(), r["target"]["region"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(targets.len(), 4);
    for account in &ACCOUNTS[..2] {
        for region in REGIONS {
            assert!(targets.contains(&(account.to_string(), region.to_owned())), "{targets:?}");
        }
    }
    // Every finding of every target is on the central bus, with its account and region.
    let events = aws.drain_events(&events_queue, std::time::Duration::from_secs(2)).await;
    let on_bus: std::collections::BTreeSet<(String, String)> = events
        .iter()
        .map(|e| {
            (e["detail"]["account"].as_str().unwrap().to_owned(), e["detail"]["region"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(on_bus, targets.into_iter().collect(), "{events:#?}");

    // The state after the map: one digest for the whole organisation, from the map's output.
    let digest_state = &definition["States"][map["Next"].as_str().expect("the map goes on to the digest")];
    let digest_input = map_output(map, &map_input, results.clone(), &aws.s3).await;
    let answer = watch.invoke(SCANNER, &task_payload(digest_state, &digest_input)).await.expect("the digest");
    assert_eq!(answer["organisation"]["targets"], 6, "{answer:#}");
    assert_eq!(answer["organisation"]["sent"], true);
    let mut digests = aws.drain(&digest_queue, std::time::Duration::from_secs(2)).await;
    // With OWNER_TAG_KEY, each owner's digest follows, with the attribute its filter policy
    // matches; the organisation's has none.
    let owner_of = |d: &watchdog_tests::lambda::QueuedMessage| d.attributes.get("owner").map(|a| a["Value"].clone());
    let (owners, whole): (Vec<_>, Vec<_>) = digests.drain(..).partition(|d| owner_of(d).is_some());
    let digests = whole;
    assert_eq!(digests.len(), 1, "one digest, not one per target or region");
    assert_eq!(answer["organisation"]["owners"], json!(["racing", "tactics"]), "{answer:#}");
    assert_eq!(owners.len(), 2, "one per owner");
    for digest in &owners {
        let owner = owner_of(digest).unwrap();
        let text = digest.payload["content"]["description"].as_str().unwrap();
        // Only the owner's scanned accounts (the refused account's groups were never read).
        for account in &ACCOUNTS[..2] {
            assert_eq!(text.contains(&format!("`{account}`")), owner == team(account), "{owner}: {text}");
        }
        assert_eq!(text.matches("finding(s)").count(), 2, "its account's two regions: {text}");
    }
    let schema =
        std::fs::read_to_string(workspace_root().join("schemas/chatbot-custom-notification.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&serde_json::from_str(&schema).unwrap()).unwrap();
    for digest in digests.iter().chain(&owners) {
        let errors: Vec<String> = validator.iter_errors(&digest.payload).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    let description = digests[0].payload["content"]["description"].as_str().unwrap();
    for account in ACCOUNTS {
        assert!(description.contains(&format!("`{account}`")), "{description}");
    }
    assert_eq!(description.matches("not scanned").count(), 2, "{description}");
    assert_eq!(description.matches("stream group(s)").count(), 4, "{description}");

    // One set of alarms and one dashboard for every account (org/hub.yaml): each metric they
    // name is one the targets' scans and the digest published in the hub's CloudWatch, and the
    // dashboard's per-account lines are exactly the accounts scanned.
    assert_eq!(answer["metrics"]["published"], true, "TargetsNotScanned: {answer:#}");
    let hub = template("org/hub.yaml");
    let mut expected = alarm_metrics(&hub);
    expected.extend(dashboard(&hub, "OrganisationDashboard").0);
    assert!(expected.len() >= 9, "the hub's alarms and widgets: {expected:#?}");
    let published = published_metrics(&aws.cloudwatch, &namespace).await;
    let missing = unpublished(&expected, &published);
    assert!(missing.is_empty(), "named by org/hub.yaml, published by nothing: {missing:#?}");
    let drawn: std::collections::BTreeSet<&str> = published
        .iter()
        .flat_map(|(_, dims)| dims.iter().filter(|(d, _)| d == "Account").map(|(_, v)| v.as_str()))
        .collect();
    assert_eq!(drawn, ACCOUNTS[..2].iter().copied().collect(), "one line per account scanned");
}

/// A role that cannot be assumed fails the target before any read, naming the account and
/// the role (here STS itself cannot be reached).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_cannot_be_assumed_fails_its_target_by_name() {
    let stage = Stage::start(quick_config(), None).await;
    let emu = &stage.emu;
    let env = stage.env(
        "OrgNoSts",
        &[
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9"),
            ("REGIONS", "us-west-2"),
            ("ALERT_MEMORY", "none"),
            ("MAX_ATTEMPTS", "1"),
        ],
    );
    let watch = LambdaWatch::start("organisation-no-sts", &env);
    let target = json!({ "account": "222233334444", "region": "us-west-2", "role_name": "gls-watchdog-read" });
    let error = watch.invoke(SCANNER, &json!({ "trigger": "organisation", "target": target })).await.unwrap_err();
    let flat: String = error.chars().filter(|c| !c.is_whitespace() && *c != '│').collect();
    assert!(flat.contains("TargetRoleNotAssumed"), "{error}");
    assert!(
        flat.contains("account222233334444(us-west-2):cannotassumearn:aws:iam::222233334444:role/gls-watchdog-read"),
        "{error}"
    );
    assert_eq!(emu.calls("ListStreamGroups").await, 0, "nothing was read");
}

/// The hub's first state lists its targets from AWS Organizations (moto_server here): the
/// ACTIVE accounts of the chosen OU and of the OU below it, in every scanned region, with the
/// targets named one by one, each once; a closed account and an OU that does not exist are
/// named, and the digest reports both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_target_list_reads_organisational_units_from_organizations_and_names_what_it_could_not_use() {
    let url = organizations_url();
    let unique = format!("{}{}", std::process::id(), chrono::Utc::now().timestamp_micros());
    let Studio { games, studio, live_account, closed, .. } = Studio::create(&unique).await;

    let stage = Stage::start(quick_config(), None).await;
    let aws = &stage.aws;
    let (digest_topic, digest_queue) = stage.topic("watchdog-org-units").await;
    let regions = REGIONS.join(",");
    let env = stage.env(
        "OrgUnits",
        &[
            ("AWS_ENDPOINT_URL_ORGANIZATIONS", &url),
            ("DIGEST_TOPIC_ARN", &digest_topic),
            ("REGIONS", &regions),
            ("ALERT_MEMORY", "none"),
        ],
    );
    let watch = LambdaWatch::start("organisation-units", &env);

    let definition = definition("gls-watchdog-read", SCANNER);
    let missing = "ou-zzzz-notthere1";
    let listed_by_hand = json!({ "account": "444455556666", "region": "us-west-2" });
    let execution_input = json!({
        "targets": [listed_by_hand], "organizational_units": [games, missing], "child_units": true, "max_concurrency": 2,
    });
    let list_state = &definition["States"]["ListTargets"];
    let answer = watch.invoke(SCANNER, &task_payload(list_state, &execution_input)).await.expect("the target list");
    let map_input = task_output(list_state, &execution_input, &answer);

    let listed: Vec<(String, String)> = map_input["listed"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["account"].as_str().unwrap().to_owned(), t["region"].as_str().unwrap().to_owned()))
        .collect();
    let mut expected: Vec<(String, String)> = [&studio, &live_account]
        .iter()
        .flat_map(|a| REGIONS.map(|r| (a.to_string(), r.to_owned())))
        .chain([("444455556666".to_owned(), "us-west-2".to_owned())])
        .collect();
    expected.sort();
    assert_eq!(listed, expected, "the OU, the OU below it and the named target: {answer:#}");
    assert_eq!(
        map_input["listed"]["accounts_skipped"],
        json!([{ "account": closed, "unit": games, "state": "SUSPENDED" }])
    );
    let not_listed = &map_input["listed"]["units_not_listed"];
    assert_eq!(not_listed.as_array().unwrap().len(), 1, "{not_listed}");
    assert_eq!(not_listed[0]["unit"], missing);
    // AWS answers ParentNotFoundException (the ListAccountsForParent reference); moto_server
    // answers this one in XML, which the SDK reads as an unknown error: either way, named.
    let why = not_listed[0]["why"].as_str().unwrap();
    assert!(why.starts_with(&format!("{missing}: ListAccountsForParent: ")), "{not_listed}");
    // Each listed target becomes one child, with the spoke's role.
    let children = map_children(&definition, &map_input);
    assert_eq!(children.len(), 5);
    assert!(children.iter().all(|c| c.payload["target"]["role_name"] == "gls-watchdog-read"));

    // The digest names the unit not listed and the account skipped, whatever the scans did.
    let digest_state = &definition["States"]["Digest"];
    let digest_input = map_output(&definition["States"]["ScanTargets"], &map_input, vec![], &aws.s3).await;
    let digest = watch.invoke(SCANNER, &task_payload(digest_state, &digest_input)).await.expect("the digest");
    assert_eq!(digest["organisation"]["units_not_listed"], json!([missing]), "{digest:#}");
    assert_eq!(digest["organisation"]["accounts_skipped"], json!([closed]));
    let sent = aws.drain(&digest_queue, std::time::Duration::from_secs(2)).await;
    assert_eq!(sent.len(), 1);
    let description = sent[0].payload["content"]["description"].as_str().unwrap();
    assert!(description.contains(&format!("unit `{missing}` not listed")), "{description}");
    assert!(
        description.contains(&format!("`{closed}` in `{games}` not scanned: its state is SUSPENDED")),
        "{description}"
    );
}
