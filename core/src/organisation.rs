//! The organisation's targets: every (account, region) the hub scans, from a list and from
//! organisational units of AWS Organizations. Pure: the units are read through
//! [`AccountDirectory`], which `watchdog-aws` implements with Organizations and the tests
//! with a map.
//!
//! Sources, read 2026-12:
//! - An account's lifecycle is its `State` (PENDING_ACTIVATION, ACTIVE, SUSPENDED,
//!   PENDING_CLOSURE, CLOSED); `Status` is the deprecated older field with ACTIVE, SUSPENDED
//!   and PENDING_CLOSURE
//!   (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_Account.html>). Only
//!   an ACTIVE account is usable
//!   (<https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_account_state.html>),
//!   so only ACTIVE accounts become targets; the others are named as skipped, never dropped.
//! - StackSets' service-managed deployment targets are OUs (or the root) and never the
//!   management account
//!   (<https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html>).
//!   ListAccountsForParent answers "the accounts in only that OU and not in any child OUs"
//!   (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccountsForParent.html>),
//!   so child OUs are walked here with ListOrganizationalUnitsForParent.
//!   Whether a StackSet's OU includes its child OUs is not said on that page: by default they are
//!   (an account without a spoke is then named "not scanned", where leaving it out would
//!   leave it unwatched in silence); `child_units: false` takes the other reading.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A member account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccount {
    pub id: String,
    /// `State`, or the deprecated `Status` where an older answer has no `State`.
    pub state: String,
}

impl MemberAccount {
    pub fn is_active(&self) -> bool {
        self.state == "ACTIVE"
    }
}

/// The organisation's tree, as far as the targets need it. Every list is every page.
#[async_trait]
pub trait AccountDirectory: Send + Sync {
    /// The accounts directly in a root or OU (ListAccountsForParent).
    async fn accounts_in(&self, parent: &str) -> Result<Vec<MemberAccount>, String>;
    /// The OUs directly in a root or OU (ListOrganizationalUnitsForParent).
    async fn units_in(&self, parent: &str) -> Result<Vec<String>, String>;
}

/// Where the hub's Distributed Map wrote its children's results (its ResultWriter): S3.
#[async_trait]
pub trait ResultStore: Send + Sync {
    /// An object's text (GetObject); the error names the object.
    async fn read(&self, bucket: &str, key: &str) -> Result<String, String>;
}

/// What the hub's scanner reads besides the targets' GameLift Streams: the organisation's
/// tree (the first state's target list) and the map's results (the last state's digest).
#[derive(Clone)]
pub struct HubPorts {
    pub directory: std::sync::Arc<dyn AccountDirectory>,
    pub results: std::sync::Arc<dyn ResultStore>,
}

/// One (account, region) to scan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRegion {
    pub account: String,
    pub region: String,
}

/// What the hub was asked to scan.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSources {
    /// Targets named one by one.
    #[serde(default)]
    pub targets: Vec<AccountRegion>,
    /// Roots or OUs (`r-…`, `ou-…`): each ACTIVE account in them, in every scanned region.
    #[serde(default)]
    pub organizational_units: Vec<String>,
    /// Accounts in OUs below the named ones count too (the default; see the module's sources).
    #[serde(default = "yes")]
    pub child_units: bool,
}

fn yes() -> bool {
    true
}

/// A unit that could not be read, and why (AccessDenied, not the management or delegated
/// administrator account, no such OU).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitNotListed {
    pub unit: String,
    pub why: String,
}

/// An account found in a unit and not scanned, and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSkipped {
    pub account: String,
    pub unit: String,
    pub state: String,
}

/// The targets of one run, each once, in order, and everything the lists could not give.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetList {
    pub targets: Vec<AccountRegion>,
    #[serde(default)]
    pub units_not_listed: Vec<UnitNotListed>,
    #[serde(default)]
    pub accounts_skipped: Vec<AccountSkipped>,
}

/// Is `unit` a root or OU id? ListAccountsForParent's ParentId pattern:
/// `^(r-[0-9a-z]{4,32})|(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$`
/// (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccountsForParent.html>).
pub fn is_unit_id(unit: &str) -> bool {
    let lower_alnum = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if let Some(rest) = unit.strip_prefix("r-") {
        return (4..=32).contains(&rest.len()) && lower_alnum(rest);
    }
    match unit.strip_prefix("ou-").and_then(|rest| rest.split_once('-')) {
        Some((root, ou)) => {
            (4..=32).contains(&root.len()) && (8..=32).contains(&ou.len()) && lower_alnum(root) && lower_alnum(ou)
        }
        None => false,
    }
}

/// Every target of `sources`: the named ones, and each ACTIVE account of the units in each
/// of `regions`; each (account, region) once, sorted, so that no target is scanned twice in
/// one run. A unit that cannot be read is named and the others still count; without a
/// directory, every unit is named.
pub async fn list_targets(
    directory: Option<&dyn AccountDirectory>,
    sources: &TargetSources,
    regions: &[String],
) -> TargetList {
    let mut targets: BTreeSet<AccountRegion> = sources.targets.iter().cloned().collect();
    let mut list = TargetList::default();
    let mut skipped: BTreeMap<String, AccountSkipped> = BTreeMap::new();
    for unit in &sources.organizational_units {
        let Some(directory) = directory else {
            let why = "this caller cannot read AWS Organizations".to_owned();
            list.units_not_listed.push(UnitNotListed { unit: unit.clone(), why });
            continue;
        };
        match accounts_under(directory, unit, sources.child_units).await {
            Err(why) => list.units_not_listed.push(UnitNotListed { unit: unit.clone(), why }),
            Ok(accounts) => {
                for account in accounts {
                    if !account.is_active() {
                        let entry =
                            AccountSkipped { account: account.id.clone(), unit: unit.clone(), state: account.state };
                        skipped.entry(account.id).or_insert(entry);
                        continue;
                    }
                    for region in regions {
                        targets.insert(AccountRegion { account: account.id.clone(), region: region.clone() });
                    }
                }
            }
        }
    }
    list.targets = targets.into_iter().collect();
    list.accounts_skipped = skipped.into_values().collect();
    list
}

/// The accounts of `unit`, and with `children` those of every OU below it, breadth first.
async fn accounts_under(
    directory: &dyn AccountDirectory,
    unit: &str,
    children: bool,
) -> Result<Vec<MemberAccount>, String> {
    let mut accounts = Vec::new();
    let mut pending = vec![unit.to_owned()];
    let mut seen = BTreeSet::new();
    while let Some(parent) = pending.pop() {
        if !seen.insert(parent.clone()) {
            continue;
        }
        accounts.extend(directory.accounts_in(&parent).await.map_err(|e| format!("{parent}: {e}"))?);
        if children {
            pending.extend(directory.units_in(&parent).await.map_err(|e| format!("{parent}: {e}"))?);
        }
    }
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a parent holds: its accounts as (id, state), and its OUs.
    type Children = (Vec<(&'static str, &'static str)>, Vec<&'static str>);

    /// An organisation as a map from parent to its children; an unknown parent is refused
    /// as Organizations refuses it.
    struct Tree(BTreeMap<&'static str, Children>);

    #[async_trait]
    impl AccountDirectory for Tree {
        async fn accounts_in(&self, parent: &str) -> Result<Vec<MemberAccount>, String> {
            let (accounts, _) = self.0.get(parent).ok_or("ParentNotFoundException")?;
            Ok(accounts
                .iter()
                .map(|(id, state)| MemberAccount { id: id.to_string(), state: state.to_string() })
                .collect())
        }
        async fn units_in(&self, parent: &str) -> Result<Vec<String>, String> {
            let (_, units) = self.0.get(parent).ok_or("ParentNotFoundException")?;
            Ok(units.iter().map(|u| u.to_string()).collect())
        }
    }

    const GAMES: &str = "ou-ab12-games001";
    const LIVE: &str = "ou-ab12-live0001";

    fn tree() -> Tree {
        Tree(BTreeMap::from([
            (GAMES, (vec![("111122223333", "ACTIVE"), ("999988887777", "SUSPENDED")], vec![LIVE])),
            (LIVE, (vec![("222233334444", "ACTIVE")], vec![])),
        ]))
    }

    fn regions() -> Vec<String> {
        vec!["us-west-2".into(), "eu-central-1".into()]
    }

    fn target(account: &str, region: &str) -> AccountRegion {
        AccountRegion { account: account.into(), region: region.into() }
    }

    #[tokio::test]
    async fn active_accounts_of_a_unit_and_its_children_in_every_region_each_once_with_the_named_targets() {
        let sources = TargetSources {
            targets: vec![target("111122223333", "us-west-2"), target("444455556666", "ap-northeast-1")],
            organizational_units: vec![GAMES.into()],
            child_units: true,
        };
        let list = list_targets(Some(&tree()), &sources, &regions()).await;
        assert_eq!(
            list.targets,
            [
                target("111122223333", "eu-central-1"),
                target("111122223333", "us-west-2"),
                target("222233334444", "eu-central-1"),
                target("222233334444", "us-west-2"),
                target("444455556666", "ap-northeast-1"),
            ]
        );
        assert_eq!(
            list.accounts_skipped,
            [AccountSkipped { account: "999988887777".into(), unit: GAMES.into(), state: "SUSPENDED".into() }]
        );
        assert!(list.units_not_listed.is_empty());
    }

    #[tokio::test]
    async fn without_child_units_only_the_named_unit_counts() {
        let sources =
            TargetSources { organizational_units: vec![GAMES.into()], child_units: false, ..Default::default() };
        let list = list_targets(Some(&tree()), &sources, &regions()).await;
        let accounts: BTreeSet<&str> = list.targets.iter().map(|t| t.account.as_str()).collect();
        assert_eq!(accounts, BTreeSet::from(["111122223333"]));
    }

    #[tokio::test]
    async fn a_unit_that_cannot_be_read_is_named_and_the_others_still_count() {
        let sources = TargetSources {
            organizational_units: vec!["ou-ab12-missing1".into(), LIVE.into()],
            child_units: true,
            ..Default::default()
        };
        let list = list_targets(Some(&tree()), &sources, &regions()).await;
        assert_eq!(list.targets.len(), 2, "{list:?}");
        assert_eq!(list.units_not_listed.len(), 1);
        assert_eq!(list.units_not_listed[0].unit, "ou-ab12-missing1");
        assert!(list.units_not_listed[0].why.contains("ParentNotFoundException"), "{list:?}");
    }

    #[test]
    fn unit_ids_as_organizations_writes_them() {
        let (root_32, ou_32) = ("r".repeat(32), "o".repeat(32));
        let longest = [format!("r-{root_32}"), format!("ou-{root_32}-{ou_32}")];
        for good in ["r-ab12", "ou-ab12-games001", "ou-exampleroot-exampleou1"]
            .into_iter()
            .chain(longest.iter().map(String::as_str))
        {
            assert!(is_unit_id(good), "{good}");
        }
        let too_long = [format!("r-{root_32}x"), format!("ou-{root_32}x-games001"), format!("ou-ab12-{ou_32}x")];
        let bad = ["", "r-", "r-ab1", "ou-ab12", "ou-AB12-games001", "games", "ou-ab12-gameso1", "111122223333"];
        for bad in bad.into_iter().chain(too_long.iter().map(String::as_str)) {
            assert!(!is_unit_id(bad), "{bad}");
        }
    }
}
