//! An organisation in AWS Organizations (moto_server, started by scripts/test) for the hub's
//! target list and the CLI's `--org-unit`: made through the SDK as a studio's would be.

use crate::lambda::organizations_url;
use aws_config::{BehaviorVersion, Region};

/// An Organizations client for moto_server, as the organisation's management account.
pub async fn client() -> aws_sdk_organizations::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_organizations::config::Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(organizations_url())
        .load()
        .await;
    aws_sdk_organizations::Client::new(&sdk)
}

/// A studio's units, made afresh under the organisation's root: `games` holds the ACTIVE
/// account `studio` and the closed account `closed`; `live`, an OU below `games`, holds the
/// ACTIVE account `live_account`.
pub struct Studio {
    pub games: String,
    pub live: String,
    pub studio: String,
    pub live_account: String,
    pub closed: String,
}

impl Studio {
    /// `unique` keeps the names of concurrent and repeated runs apart on one server.
    pub async fn create(unique: &str) -> Self {
        let org = client().await;
        // One organisation per server: made by the first run against it, reused by the others.
        let features = aws_sdk_organizations::types::OrganizationFeatureSet::All;
        let _ = org.create_organization().feature_set(features).send().await;
        let roots = org.list_roots().send().await.expect("ListRoots");
        let root = roots.roots()[0].id().expect("a root id").to_owned();
        let games = unit(&org, &root, &format!("games-{unique}")).await;
        let live = unit(&org, &games, &format!("live-{unique}")).await;
        let studio = member(&org, &root, &games, &format!("studio-{unique}")).await;
        let live_account = member(&org, &root, &live, &format!("live-{unique}")).await;
        let closed = member(&org, &root, &games, &format!("closed-{unique}")).await;
        org.close_account().account_id(&closed).send().await.expect("CloseAccount");
        Self { games, live, studio, live_account, closed }
    }
}

async fn unit(org: &aws_sdk_organizations::Client, parent: &str, name: &str) -> String {
    let made = org.create_organizational_unit().parent_id(parent).name(name).send().await.expect("CreateOU");
    made.organizational_unit().and_then(|u| u.id()).expect("an OU id").to_owned()
}

/// An account, created in the root and moved to `unit`.
async fn member(org: &aws_sdk_organizations::Client, root: &str, unit: &str, name: &str) -> String {
    let created = org
        .create_account()
        .account_name(name)
        .email(format!("{name}@example.com"))
        .send()
        .await
        .expect("CreateAccount");
    let id = created.create_account_status().and_then(|s| s.account_id()).expect("an account id").to_owned();
    org.move_account().account_id(&id).source_parent_id(root).destination_parent_id(unit).send().await.expect("Move");
    id
}
