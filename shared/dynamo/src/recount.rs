//! `leadpipe recount` on DynamoDB: rebuilds every counter bucket and value registry from the lead items.
//!
//! It reads every lead item (a paginated Scan: a maintenance command, not a request path), counts them oldest
//! first with the current counter rules, deletes the old `C#`/`R#` items and writes the new ones. Run it with
//! the stream consumer stopped or traffic quiet: a consumer batch applied while it runs may be counted twice or
//! not at all (run it again to settle).

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use leadpipe_core::domain::counters::{all_bucket, field, Counters, Registry};
use leadpipe_core::domain::Lead;
use leadpipe_core::store::{LeadStore, StoreError};

use crate::codec::{count_attribute, is_lead_item, lead_from_item, ms_attribute, n, Item};
use crate::error::{internal, sdk_error};
use crate::keys::{self, PK, SK};
use crate::store::DynamoStore;

/// What a recount did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecountReport {
    /// Leads counted.
    pub leads: usize,
    /// Counter and registry items deleted.
    pub deleted: usize,
    /// Counter and registry items written.
    pub written: usize,
}

/// Rebuilds the counters of `store`'s table.
pub async fn recount(store: &DynamoStore) -> Result<RecountReport, StoreError> {
    let items = scan_all(store).await?;
    let mut leads: Vec<Lead> = items
        .iter()
        .filter(|i| is_lead_item(i))
        .map(lead_from_item)
        .collect::<Result<_, _>>()?;
    leads.sort_by_key(Lead::created_key);
    let mut registry = Registry::default();
    let mut counters: Counters = store.rules().recount(&leads, &mut registry);
    let old_changes = store
        .counters(&leadpipe_core::domain::counters::CounterQuery {
            buckets: [all_bucket(None)].into(),
            ..Default::default()
        })
        .await?;
    counters.add(
        &all_bucket(None),
        field::CHANGES,
        old_changes.get(&all_bucket(None), field::CHANGES).n + 1,
        0,
    );
    let stale: Vec<Item> = items
        .into_iter()
        .filter(|i| {
            i.get(PK)
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk.starts_with("C#") || pk.starts_with("R#"))
        })
        .collect();
    let mut deletes = Vec::new();
    for item in &stale {
        let key: Item = [PK, SK]
            .iter()
            .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        deletes.push(
            WriteRequest::builder()
                .delete_request(
                    DeleteRequest::builder()
                        .set_key(Some(key))
                        .build()
                        .map_err(internal)?,
                )
                .build(),
        );
    }
    let mut puts = Vec::new();
    for (bucket, fields) in &counters.0 {
        let mut item = keys::counter_key(bucket);
        for (name, t) in fields {
            item.insert(count_attribute(name), n(t.n));
            if t.ms != 0 {
                item.insert(ms_attribute(name), n(t.ms));
            }
        }
        puts.push(item);
    }
    for (scope, values) in &registry.0 {
        let mut item = keys::registry_key(scope);
        item.insert(
            "vals".into(),
            AttributeValue::Ss(values.iter().cloned().collect()),
        );
        puts.push(item);
    }
    let written = puts.len();
    let puts: Vec<WriteRequest> = puts
        .into_iter()
        .map(|item| {
            Ok(WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .map_err(internal)?,
                )
                .build())
        })
        .collect::<Result<_, StoreError>>()?;
    store.batch_write(deletes).await?;
    store.batch_write(puts).await?;
    Ok(RecountReport {
        leads: leads.len(),
        deleted: stale.len(),
        written,
    })
}

async fn scan_all(store: &DynamoStore) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = store
            .client
            .scan()
            .table_name(&store.table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(sdk_error)?;
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(items),
        }
    }
}
