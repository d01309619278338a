//! The local runner's library half: the merged router that `leadpipe serve` (and the HTTP tests) run, the
//! local stream consumer that keeps a DynamoDB (Local) table's derived data up to date, and the webhook worker's
//! wiring ([`webhooks`]).

pub mod server;
pub mod streams;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use leadpipe_core::domain::counters::CounterRules;
use leadpipe_core::Leadpipe;
use leadpipe_dynamo::{Consumer, DynamoStore};

/// Every route of every function (postback, leads, stage, analytics), merged: the same code the Lambdas run.
pub fn all_routes() -> Router<Leadpipe> {
    postback::router()
        .merge(leads::router())
        .merge(stage::router())
        .merge(analytics::router())
}

/// A DynamoDB store whose stream is consumed in this process: the store (its `settle` waits for the consumer)
/// and the poller to run (see [`streams::LocalStreamConsumer::spawn`]).
pub fn dynamo_with_local_consumer(
    client: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    table: &str,
    rules: CounterRules,
) -> (DynamoStore, Arc<streams::LocalStreamConsumer>) {
    let plain = DynamoStore::new(client, table, rules);
    let poller = Arc::new(streams::LocalStreamConsumer::new(
        Consumer::new(plain.clone()),
        streams,
    ));
    (plain.with_settle(poller.clone()), poller)
}
