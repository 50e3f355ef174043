//! Reaching GameLift Streams from a tool (the CLI): the SDK configuration from the standard
//! chain and an optional profile, and one call that proves profile, region, endpoint and
//! credentials work, with every failure as one sentence naming what to fix.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_gameliftstreams::error::SdkError;

/// The SDK configuration: the standard chain, with `profile` when given.
pub async fn load(profile: Option<&str>) -> aws_types::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = profile {
        // A profile named on the command line wins over credentials in the environment, as
        // with the AWS CLI: otherwise `--profile prod --profile staging` would read whichever
        // account AWS_ACCESS_KEY_ID belongs to, twice.
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder().profile_name(profile).build();
        loader = loader.profile_name(profile).credentials_provider(credentials);
    }
    loader.load().await
}

/// `sdk` with `role_arn` assumed from its credentials (an organisation's read role in one of
/// its accounts). The role is assumed here, once, so one that cannot be assumed (AccessDenied,
/// a typo, an account outside the organisation) fails before any read, in one line naming it.
pub async fn assume(sdk: &aws_types::SdkConfig, role_arn: &str, session: &str) -> Result<aws_types::SdkConfig, String> {
    use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
    let provider =
        aws_config::sts::AssumeRoleProvider::builder(role_arn).session_name(session).configure(sdk).build().await;
    provider.provide_credentials().await.map_err(|e| format!("cannot assume {role_arn}: {}", source_chain(&e)))?;
    Ok(sdk.to_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build())
}

/// The region the configuration resolved (AWS_REGION, the profile's), if any.
pub fn default_region(sdk: &aws_types::SdkConfig) -> Option<String> {
    sdk.region().map(|r| r.to_string())
}

/// One ListStreamGroups call, no retries: the answer says whether everything is in place.
pub async fn check(sdk: &aws_types::SdkConfig, region: &str) -> Result<(), String> {
    let config = aws_sdk_gameliftstreams::config::Builder::from(sdk)
        .region(aws_types::region::Region::new(region.to_owned()))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    let client = aws_sdk_gameliftstreams::Client::from_conf(config);
    let endpoint = endpoint_for(region);
    match client.list_stream_groups().max_results(1).send().await {
        Ok(_) => Ok(()),
        Err(SdkError::DispatchFailure(failure)) if failure.is_io() || failure.is_timeout() => {
            let why = failure.as_connector_error().map(|e| source_chain(e)).unwrap_or_else(|| "no answer".into());
            Err(format!(
                "cannot reach GameLift Streams in {region} at {endpoint} (is the endpoint up and its address right?): {why}"
            ))
        }
        Err(SdkError::TimeoutError(_)) => {
            Err(format!("cannot reach GameLift Streams in {region} at {endpoint}: timed out"))
        }
        Err(SdkError::ServiceError(e)) => {
            let meta = aws_sdk_gameliftstreams::error::ProvideErrorMetadata::meta(e.err());
            let code = meta.code().unwrap_or("an error");
            let message = meta.message().unwrap_or_default();
            let hint = match code {
                "AccessDeniedException" => ": these credentials may not call gameliftstreams:ListStreamGroups",
                "UnrecognizedClientException" | "InvalidSignatureException" => ": the credentials are not valid",
                _ => "",
            };
            Err(format!("GameLift Streams in {region} answered {code} {message}{hint}").trim().to_owned())
        }
        Err(other) => Err(format!("cannot call GameLift Streams in {region}: {}", describe(&other))),
    }
}

/// An error as one line; a credentials problem says how to give some.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let chain = source_chain(error);
    if chain.contains("credentials") || chain.contains("Credentials") {
        format!(
            "no usable AWS credentials ({chain}): set a profile with --profile or AWS_PROFILE, or AWS_ACCESS_KEY_ID"
        )
    } else {
        chain
    }
}

/// An error and its sources, as one line.
fn source_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// The endpoint a call goes to, for messages: the standard variables, or AWS's.
fn endpoint_for(region: &str) -> String {
    ["AWS_ENDPOINT_URL_GAMELIFTSTREAMS", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| format!("https://gameliftstreams.{region}.api.aws"))
}
