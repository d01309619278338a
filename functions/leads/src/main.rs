//! Lambda entry point: wires `leads::router()` into the Lambda runtime (AWS clients built once). Retried and
//! re-enabled webhook deliveries go to the SQS queue named by `WEBHOOK_QUEUE_URL` (the template sets it); without
//! it they wait for a polling worker.

use std::sync::Arc;

use leadpipe_http::PolledQueue;
use leadpipe_sqs::SqsDeliveryQueue;
use leadpipe_webhooks::DeliveryQueue;

#[tokio::main]
async fn main() -> Result<(), leadpipe_http::LambdaError> {
    leadpipe_http::run_lambda_with_queue(leads::router(), |sdk| {
        match SqsDeliveryQueue::from_env(sdk) {
            Some(queue) => Arc::new(queue) as Arc<dyn DeliveryQueue>,
            None => Arc::new(PolledQueue),
        }
    })
    .await
}
