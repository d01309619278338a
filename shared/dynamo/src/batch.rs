//! BatchGetItem and BatchWriteItem with their unprocessed keys retried (DynamoDB returns them when a partition
//! is throttled), through the one retry helper. A transport failure is not retried here: it surfaces at once.

use aws_sdk_dynamodb::types::{KeysAndAttributes, WriteRequest};
use aws_sdk_dynamodb::Client;
use leadpipe_core::retry::{retry, RetryPolicy};
use leadpipe_core::store::StoreError;

use crate::codec::Item;
use crate::error::{internal, sdk_error};
use crate::keys::Key;

/// One round of a batch request: some keys came back unprocessed, or it failed.
enum Round {
    Unprocessed,
    Failed(StoreError),
}

impl From<StoreError> for Round {
    fn from(e: StoreError) -> Self {
        Self::Failed(e)
    }
}

fn finish<T>(result: Result<T, Round>) -> Result<T, StoreError> {
    result.map_err(|r| match r {
        Round::Unprocessed => {
            StoreError::Unavailable("a batch request stayed throttled through every retry".into())
        }
        Round::Failed(e) => e,
    })
}

/// Reads items by key, 100 keys a request, requests in parallel.
pub(crate) async fn get(
    client: &Client,
    table: &str,
    keys: Vec<Key>,
    consistent: bool,
) -> Result<Vec<Item>, StoreError> {
    let requests = keys
        .chunks(100)
        .map(|chunk| get_chunk(client, table, chunk.to_vec(), consistent));
    let mut items = Vec::new();
    for result in futures_util::future::join_all(requests).await {
        items.extend(result?);
    }
    Ok(items)
}

async fn get_chunk(
    client: &Client,
    table: &str,
    keys: Vec<Key>,
    consistent: bool,
) -> Result<Vec<Item>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let pending = std::sync::Mutex::new(keys);
    let found = std::sync::Mutex::new(Vec::new());
    let result = retry(
        RetryPolicy::THROTTLING,
        |r| matches!(r, Round::Unprocessed),
        |_| async {
            let batch = std::mem::take(&mut *pending.lock().map_err(|_| internal("poisoned"))?);
            let request = KeysAndAttributes::builder()
                .set_keys(Some(batch))
                .consistent_read(consistent)
                .build()
                .map_err(internal)?;
            let out = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(sdk_error)?;
            if let Some(mut responses) = out.responses {
                found
                    .lock()
                    .map_err(|_| internal("poisoned"))?
                    .extend(responses.remove(table).unwrap_or_default());
            }
            let left = out
                .unprocessed_keys
                .and_then(|mut m| m.remove(table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if left.is_empty() {
                return Ok(());
            }
            *pending.lock().map_err(|_| internal("poisoned"))? = left;
            Err(Round::Unprocessed)
        },
    )
    .await;
    finish(result)?;
    found.into_inner().map_err(|_| internal("poisoned"))
}

/// Writes (puts and deletes), 25 requests at a time.
pub(crate) async fn write(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
) -> Result<(), StoreError> {
    for chunk in requests.chunks(25) {
        write_chunk(client, table, chunk.to_vec()).await?;
    }
    Ok(())
}

async fn write_chunk(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
) -> Result<(), StoreError> {
    let pending = std::sync::Mutex::new(requests);
    let result = retry(
        RetryPolicy::THROTTLING,
        |r| matches!(r, Round::Unprocessed),
        |_| async {
            let batch = std::mem::take(&mut *pending.lock().map_err(|_| internal("poisoned"))?);
            let out = client
                .batch_write_item()
                .request_items(table, batch)
                .send()
                .await
                .map_err(sdk_error)?;
            let left = out
                .unprocessed_items
                .and_then(|mut m| m.remove(table))
                .unwrap_or_default();
            if left.is_empty() {
                return Ok(());
            }
            *pending.lock().map_err(|_| internal("poisoned"))? = left;
            Err(Round::Unprocessed)
        },
    )
    .await;
    finish(result)
}
