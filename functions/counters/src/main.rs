//! Lambda entry point: builds the AWS clients, the stream consumer and (when webhooks are deployed) the webhook
//! fan-out once, then handles stream batches.

use std::sync::Arc;
use std::time::Duration;

use leadpipe_core::config::ConfigError;
use leadpipe_core::Settings;
use leadpipe_delivery::{Deliverer, Policies, Reach, Sender, WebhookCache};
use leadpipe_dynamo::{Consumer, DynamoStore};
use leadpipe_sqs::SqsDeliveryQueue;

#[tokio::main]
async fn main() -> Result<(), leadpipe_http::LambdaError> {
    leadpipe_http::init_tracing();
    let settings = Settings::from_env()?;
    let table = std::env::var("TABLE_NAME").map_err(|_| ConfigError::Missing("TABLE_NAME"))?;
    let sdk = leadpipe_dynamo::client::config_from_env().await;
    let store = DynamoStore::new(
        leadpipe_dynamo::client::client(&sdk),
        table,
        settings.counter_rules(),
    );
    let deliverer = match SqsDeliveryQueue::from_env(&sdk) {
        Some(queue) => Some(Deliverer::new(
            Arc::new(store.clone()),
            Arc::new(queue),
            Sender::new(Reach::Public)?,
            Policies::from_env()?,
            WebhookCache::new(Duration::from_secs(30)),
        )),
        None => None,
    };
    let consumer = Consumer::new(store);
    let (consumer, deliverer) = (&consumer, deliverer.as_ref());
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<counters::StreamEvent>| async move {
            counters::handle(consumer, deliverer, &event.payload.0)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "stream batch failed; Lambda retries it");
                    lambda_runtime::Diagnostic::from(
                        Box::new(e) as Box<dyn std::error::Error + Send + Sync>
                    )
                })
        },
    ))
    .await
}
