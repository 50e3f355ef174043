//! Which groups a remediation function may touch: opted in by a tag (or by a deployment
//! that manages every group), opted out by the same tag set to `false`, and never a group
//! that CloudFormation manages: changing it would drift the stack, so it is only reported.

use crate::model::StreamGroup;

/// The tag CloudFormation puts on every resource of a stack.
pub const CFN_STACK_TAG: &str = "aws:cloudformation:stack-name";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    OptedIn,
    NotOptedIn,
    OptedOut,
    /// Managed by this CloudFormation stack.
    CloudFormation(String),
}

/// `opt_in_tag` = `true` opts a group in, `false` opts it out (also when `manage_all_groups`).
pub fn eligibility(group: &StreamGroup, opt_in_tag: &str, manage_all_groups: bool) -> Eligibility {
    if let Some(stack) = group.tags.get(CFN_STACK_TAG) {
        return Eligibility::CloudFormation(stack.clone());
    }
    match group.tags.get(opt_in_tag).map(|v| v.to_ascii_lowercase()) {
        Some(v) if v == "false" => Eligibility::OptedOut,
        Some(v) if v == "true" => Eligibility::OptedIn,
        _ if manage_all_groups => Eligibility::OptedIn,
        _ => Eligibility::NotOptedIn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(tags: &[(&str, &str)]) -> StreamGroup {
        let mut group = StreamGroup::new("sg-1", "arn:aws:gameliftstreams:us-west-2:1:streamgroup/sg-1");
        group.tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        group
    }

    #[test]
    fn tag_decides_and_cloudformation_wins() {
        assert_eq!(eligibility(&tagged(&[]), "w", false), Eligibility::NotOptedIn);
        assert_eq!(eligibility(&tagged(&[]), "w", true), Eligibility::OptedIn);
        assert_eq!(eligibility(&tagged(&[("w", "True")]), "w", false), Eligibility::OptedIn);
        assert_eq!(eligibility(&tagged(&[("w", "false")]), "w", true), Eligibility::OptedOut);
        assert_eq!(
            eligibility(&tagged(&[("w", "true"), (CFN_STACK_TAG, "games")]), "w", true),
            Eligibility::CloudFormation("games".into())
        );
    }
}
