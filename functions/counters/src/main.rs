//! Lambda entry point: builds the DynamoDB client and the stream consumer once, then handles stream batches.

use leadpipe_core::config::ConfigError;
use leadpipe_core::Settings;
use leadpipe_dynamo::{Consumer, DynamoStore};

#[tokio::main]
async fn main() -> Result<(), leadpipe_http::LambdaError> {
    leadpipe_http::init_tracing();
    let settings = Settings::from_env()?;
    let table = std::env::var("TABLE_NAME").map_err(|_| ConfigError::Missing("TABLE_NAME"))?;
    let store = DynamoStore::new(leadpipe_dynamo::client::from_env().await, table, settings.counter_rules());
    let consumer = Consumer::new(store);
    let consumer = &consumer;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<_>| async move {
        counters::handle(consumer, &event.payload).await.map_err(|e| {
            tracing::error!(error = %e, "stream batch failed; Lambda retries it");
            lambda_runtime::Diagnostic::from(Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
    }))
    .await
}
