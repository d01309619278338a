//! Building the SDK configuration and client — once per process, in `main` — from the standard AWS environment.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;

/// The AWS configuration from the standard environment (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`…), with
/// short timeouts so an unreachable DynamoDB turns into a quick 503.
pub async fn config_from_env() -> SdkConfig {
    with_timeouts(aws_config::defaults(aws_config::BehaviorVersion::latest())).await
}

/// Like [`config_from_env`], for local runs: when no region or credentials are configured it uses `us-east-1`
/// and dummy credentials (DynamoDB Local accepts any).
pub async fn config_for_local_use() -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        loader = loader.region(aws_config::Region::new("us-east-1"));
    }
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none()
    {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "leadpipe-local",
        ));
    }
    with_timeouts(loader).await
}

/// A DynamoDB client from the standard environment (what every Lambda builds in `main`).
pub async fn from_env() -> Client {
    Client::new(&config_from_env().await)
}

/// A DynamoDB client for an AWS configuration built once (shared with the process's other AWS clients).
pub fn client(config: &SdkConfig) -> Client {
    Client::new(config)
}

async fn with_timeouts(loader: aws_config::ConfigLoader) -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build();
    loader.timeout_config(timeouts).load().await
}
