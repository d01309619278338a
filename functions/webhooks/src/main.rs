//! Lambda entry point: builds the AWS clients, the store, the queue and the HTTP sender once, then handles SQS
//! batches of deliveries.

use std::sync::Arc;
use std::time::Duration;

use leadpipe_core::config::ConfigError;
use leadpipe_core::Settings;
use leadpipe_delivery::{Deliverer, Policies, Reach, Sender, WebhookCache};
use leadpipe_dynamo::DynamoStore;
use leadpipe_sqs::SqsDeliveryQueue;

#[tokio::main]
async fn main() -> Result<(), leadpipe_http::LambdaError> {
    leadpipe_http::init_tracing();
    let settings = Settings::from_env()?;
    let sdk = leadpipe_dynamo::client::config_from_env().await;
    let table = std::env::var("TABLE_NAME").map_err(|_| ConfigError::Missing("TABLE_NAME"))?;
    let queue =
        SqsDeliveryQueue::from_env(&sdk).ok_or(ConfigError::Missing("WEBHOOK_QUEUE_URL"))?;
    let store = DynamoStore::new(
        leadpipe_dynamo::client::client(&sdk),
        table,
        settings.counter_rules(),
    );
    let deliverer = Deliverer::new(
        Arc::new(store),
        Arc::new(queue),
        Sender::new(Reach::Public)?,
        Policies::from_env()?,
        WebhookCache::new(Duration::from_secs(30)),
    );
    let deliverer = &deliverer;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<_>| async move {
            Ok::<_, lambda_runtime::Error>(webhooks::handle(deliverer, &event.payload).await)
        },
    ))
    .await
}
