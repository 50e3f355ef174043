//! One emulator plays a whole organisation: the account comes from the request's access key
//! id (LocalStack's convention), each account has its own groups, ARNs and rate limits, and
//! the clock is one for all.

use watchdog_tests::{ACCOUNT, TestEmulator, fleet_file, quick_config, refused};

const STAGING: &str = "222233334444";

fn fleet(description: &str) -> String {
    fleet_file("emulator-accounts.toml", &[("description", description)])
}

#[tokio::test]
async fn each_account_sees_its_own_groups_and_the_clock_is_one_for_all() {
    let emu = TestEmulator::start(quick_config(), Some(&fleet("PROD"))).await;
    emu.load_fleet_of(STAGING, fleet("STAGING")).await;

    let prod = emu.client_of_account(ACCOUNT, "us-west-2").await;
    let staging = emu.client_of_account(STAGING, "us-west-2").await;
    let ids = |groups: &[aws_sdk_gameliftstreams::types::StreamGroupSummary]| -> Vec<String> {
        groups.iter().filter_map(|g| g.id().map(str::to_owned)).collect()
    };
    let seen_by_prod = prod.list_stream_groups().send().await.unwrap();
    let seen_by_staging = staging.list_stream_groups().send().await.unwrap();
    assert_eq!(ids(seen_by_prod.items()), ["sg-PROD"]);
    assert_eq!(ids(seen_by_staging.items()), ["sg-STAGING"]);
    assert!(seen_by_staging.items()[0].arn().contains(&format!(":{STAGING}:streamgroup/")));
    // Another account's group is not there for this one.
    let missing = refused(staging.get_stream_group().identifier("sg-PROD").send().await);
    assert!(missing.is_resource_not_found_exception());

    // One clock: ten days on, both groups are ten days older.
    emu.advance_days(10.0).await;
    for client in [&prod, &staging] {
        let group = &client.list_stream_groups().send().await.unwrap().items()[0].clone();
        let age = chrono::Utc::now() + chrono::Duration::days(10) - to_chrono(group.created_at().unwrap());
        assert!(age.num_days() >= 19, "{age:?}");
    }
    let state = emu.admin_get(&format!("/_emulator/state?account={STAGING}")).await;
    assert_eq!(state["account"], STAGING);
    assert_eq!(state["accounts"].as_array().unwrap().len(), 2);
}

fn to_chrono(t: &aws_sdk_gameliftstreams::primitives::DateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.secs(), 0).unwrap()
}
