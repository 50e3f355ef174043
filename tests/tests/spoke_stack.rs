//! The organisation's spoke (org/spoke.yaml), deployed by LocalStack's CloudFormation in each of
//! three accounts as a StackSet deploys it in each member account: the stack completes, and its
//! read role is the one the hub's state machine assumes (the ARN the hub builds from the
//! target's account and its `ReadRoleName`), with the trust and the read policy the template
//! declares. (StackSets with service-managed permissions need AWS Organizations, which
//! LocalStack's free edition lacks: one stack per account stands for the StackSet's instances.)

use aws_config::BehaviorVersion;
use aws_sdk_cloudformation::types::{Parameter, StackStatus};
use serde_json::{Value, json};
use watchdog_tests::lambda::{localstack_url, workspace_root};

const HUB: &str = "999988887777";
const ACCOUNTS: [&str; 3] = ["111122223333", "222233334444", "333344445555"];
const ORGANISATION: &str = "o-watchdog0test";

/// LocalStack as `account` (it takes a 12-digit access key id as the account).
async fn signed_in_as(account: &str) -> aws_types::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(account, "test", None, None, "tests"))
        .endpoint_url(localstack_url())
        .load()
        .await
}

/// An IAM policy document as IAM returns it (URL-encoded JSON).
fn policy_document(encoded: &str) -> Value {
    let text = percent_encoding::percent_decode_str(encoded).decode_utf8().expect("UTF-8");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder().parameter_key(key).parameter_value(value).build()
}

/// The role name the hub's state machine substitutes (org/hub.yaml's ReadRoleName default).
fn hub_read_role_name() -> String {
    let hub: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(workspace_root().join("org/hub.yaml")).unwrap()).unwrap();
    hub["Parameters"]["ReadRoleName"]["Default"].as_str().expect("the hub's ReadRoleName default").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spoke_deploys_in_every_account_with_the_role_the_hub_assumes() {
    let template = std::fs::read_to_string(workspace_root().join("org/spoke.yaml")).unwrap();
    let read_role = hub_read_role_name();
    let stack = format!("gls-watchdog-spoke-{}", std::process::id());
    for account in ACCOUNTS {
        let sdk = signed_in_as(account).await;
        let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
        cloudformation
            .create_stack()
            .stack_name(&stack)
            .template_body(&template)
            .parameters(parameter("HubAccountId", HUB))
            .parameters(parameter("OrganizationId", ORGANISATION))
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{account}: {:?}", e.into_service_error()));
        let mut described = None;
        for _ in 0..120 {
            let stacks = cloudformation.describe_stacks().stack_name(&stack).send().await.unwrap();
            let found = stacks.stacks().first().cloned().expect("the stack");
            if found.stack_status() != Some(&StackStatus::CreateInProgress) {
                described = Some(found);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let described = described.expect("the stack finished within 30 s");
        assert_eq!(described.stack_status(), Some(&StackStatus::CreateComplete), "{account}: {described:?}");
        let role_arn = described
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some("ReadRoleArn"))
            .and_then(|o| o.output_value())
            .expect("the ReadRoleArn output");
        assert_eq!(
            role_arn,
            format!("arn:aws:iam::{account}:role/{read_role}"),
            "the ARN the hub builds for {account}"
        );

        // The role in this account's IAM: only the hub's scanner role, only inside the
        // organisation, may assume it, and it may only read.
        let iam = aws_sdk_iam::Client::new(&sdk);
        let role = iam.get_role().role_name(&read_role).send().await.expect("the role exists").role.unwrap();
        assert_eq!(role.arn(), role_arn);
        let trust = policy_document(role.assume_role_policy_document().expect("a trust policy"));
        assert_eq!(
            trust["Statement"],
            json!([{
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:aws:iam::{HUB}:role/gls-watchdog-hub-scanner") },
                "Action": "sts:AssumeRole",
                "Condition": { "StringEquals": { "aws:PrincipalOrgID": ORGANISATION } },
            }])
        );
        let names = iam.list_role_policies().role_name(&read_role).send().await.unwrap();
        assert_eq!(names.policy_names(), ["gls-watchdog-read"]);
        let inline = iam.get_role_policy().role_name(&read_role).policy_name("gls-watchdog-read").send().await.unwrap();
        let statements = policy_document(inline.policy_document()).get("Statement").cloned().unwrap();
        let actions: Vec<&str> = statements
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()))
            .collect();
        assert!(actions.iter().all(|a| a.starts_with("gameliftstreams:Get") || a.starts_with("gameliftstreams:List")));
        assert_eq!(
            statements[1]["Resource"],
            format!("arn:aws:gameliftstreams:*:{account}:streamgroup/*"),
            "the reads name this account's groups"
        );
    }
}
