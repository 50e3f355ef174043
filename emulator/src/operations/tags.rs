//! Tags on stream groups and applications.

use super::groups::check_tags;
use super::{Call, Reply, resource_id};
use crate::error::ServiceError;
use crate::facts;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResourceArnInput {
    resource_arn: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    tag_keys: Vec<String>,
}

impl Call<'_> {
    fn tags_mut(&mut self, arn: &str) -> Result<&mut BTreeMap<String, String>, ServiceError> {
        let id = resource_id(arn).to_owned();
        let found = self.region_ref().is_some_and(|r| {
            r.groups.get(&id).is_some_and(|g| g.arn == arn) || r.applications.get(&id).is_some_and(|a| a.arn == arn)
        });
        if !found {
            return Err(self.not_found(format!("Resource {arn} was not found.")));
        }
        let region = self.region();
        Ok(match region.groups.get_mut(&id) {
            Some(group) => &mut group.tags,
            None => &mut region.applications.get_mut(&id).expect("found above").tags,
        })
    }

    pub(super) fn list_tags(&mut self, input: ResourceArnInput) -> Reply {
        let tags = self.tags_mut(&input.resource_arn)?.clone();
        Ok(Some(json!({ "Tags": tags })))
    }

    pub(super) fn tag_resource(&mut self, input: ResourceArnInput) -> Reply {
        check_tags(&input.tags)?;
        let tags = self.tags_mut(&input.resource_arn)?;
        let total = tags.keys().chain(input.tags.keys().filter(|k| !tags.contains_key(*k))).count();
        if total > facts::MAX_TAGS {
            return Err(ServiceError::validation(format!(
                "Resource {} would have {total} tags; the limit is {}.",
                input.resource_arn,
                facts::MAX_TAGS
            )));
        }
        tags.extend(input.tags);
        Ok(Some(json!({})))
    }

    pub(super) fn untag_resource(&mut self, input: ResourceArnInput) -> Reply {
        let tags = self.tags_mut(&input.resource_arn)?;
        for key in &input.tag_keys {
            tags.remove(key);
        }
        Ok(Some(json!({})))
    }
}
