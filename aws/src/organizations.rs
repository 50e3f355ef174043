//! AWS Organizations through aws-sdk-organizations: the organisation's tree, for the hub's
//! target list and the CLI's `--org-units`. Both calls can be made only from the management
//! account or a delegated administrator
//! (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccountsForParent.html>);
//! elsewhere they answer AccessDenied or AWSOrganizationsNotInUseException, which the
//! caller names beside the unit.

use crate::errors::classify;
use async_trait::async_trait;
use watchdog_core::organisation::{AccountDirectory, MemberAccount};

pub struct Organizations {
    client: aws_sdk_organizations::Client,
}

impl Organizations {
    pub fn new(sdk: &aws_types::SdkConfig) -> Self {
        Self { client: aws_sdk_organizations::Client::new(sdk) }
    }
}

#[async_trait]
impl AccountDirectory for Organizations {
    async fn accounts_in(&self, parent: &str) -> Result<Vec<MemberAccount>, String> {
        let mut pages = self.client.list_accounts_for_parent().parent_id(parent).into_paginator().send();
        let mut accounts = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListAccountsForParent", &e).to_string())?;
            for account in page.accounts() {
                // `State` is the account's lifecycle; `Status` is its deprecated predecessor,
                // the only one an older answer may carry.
                let state = account
                    .state()
                    .map(|s| s.as_str().to_owned())
                    .or_else(|| account.status().map(|s| s.as_str().to_owned()))
                    .unwrap_or_else(|| "UNKNOWN".to_owned());
                accounts.push(MemberAccount { id: account.id().unwrap_or_default().to_owned(), state });
            }
        }
        Ok(accounts)
    }

    async fn units_in(&self, parent: &str) -> Result<Vec<String>, String> {
        let mut pages = self.client.list_organizational_units_for_parent().parent_id(parent).into_paginator().send();
        let mut units = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListOrganizationalUnitsForParent", &e).to_string())?;
            units.extend(page.organizational_units().iter().filter_map(|u| u.id().map(str::to_owned)));
        }
        Ok(units)
    }
}
