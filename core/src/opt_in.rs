//! Which groups a remediation function may touch: opted in by a tag (or by a deployment
//! that manages every group), opted out by the same tag set to `false`, never a group that
//! CloudFormation manages (changing it would drift the stack, so it is only reported), and
//! never a group tagged `watchdog:protect=true`: the one tag every function honours, for
//! groups that Terraform, Pulumi or a person own. No function writes to a protected group.

use crate::model::StreamGroup;

/// The tag CloudFormation puts on every resource of a stack.
pub const CFN_STACK_TAG: &str = "aws:cloudformation:stack-name";
/// `true`: no function of the watchdog writes to this group (tags included).
pub const PROTECT_TAG: &str = "watchdog:protect";

/// Whether these tags protect their group from every write of the watchdog.
pub fn is_protected(tags: &std::collections::BTreeMap<String, String>) -> bool {
    tags.get(PROTECT_TAG).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    /// `watchdog:protect=true`: reported, never written to.
    Protected,
    OptedIn,
    NotOptedIn,
    OptedOut,
    /// Managed by this CloudFormation stack.
    CloudFormation(String),
}

/// `opt_in_tag` = `true` opts a group in, `false` opts it out (also when `manage_all_groups`).
pub fn eligibility(group: &StreamGroup, opt_in_tag: &str, manage_all_groups: bool) -> Eligibility {
    if is_protected(&group.tags) {
        return Eligibility::Protected;
    }
    if let Some(stack) = group.tags.get(CFN_STACK_TAG) {
        return Eligibility::CloudFormation(stack.clone());
    }
    match group.tags.get(opt_in_tag).map(|v| v.to_ascii_lowercase()) {
        Some(v) if v == "false" => Eligibility::OptedOut,
        _ if asks_for_it(&group.tags, opt_in_tag, manage_all_groups) => Eligibility::OptedIn,
        _ => Eligibility::NotOptedIn,
    }
}

/// Whether the opt-in tag (or a deployment that manages every group) asks for the function,
/// leaving aside protection and CloudFormation: a stack-managed group asking for it has what
/// would be done reported.
pub fn asks_for_it(
    tags: &std::collections::BTreeMap<String, String>,
    opt_in_tag: &str,
    manage_all_groups: bool,
) -> bool {
    match tags.get(opt_in_tag).map(|v| v.to_ascii_lowercase()) {
        Some(v) if v == "false" => false,
        Some(v) if v == "true" => true,
        _ => manage_all_groups,
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
        let protected = tagged(&[("w", "true"), (PROTECT_TAG, "TRUE"), (CFN_STACK_TAG, "games")]);
        assert_eq!(eligibility(&protected, "w", true), Eligibility::Protected, "protection wins over everything");
        assert_eq!(eligibility(&tagged(&[(PROTECT_TAG, "no")]), "w", true), Eligibility::OptedIn);
        assert!(asks_for_it(&tagged(&[("w", "true"), (CFN_STACK_TAG, "games")]).tags, "w", false));
        assert!(!asks_for_it(&tagged(&[(CFN_STACK_TAG, "games")]).tags, "w", false));
        assert!(!asks_for_it(&tagged(&[("w", "false")]).tags, "w", true));
    }
}
