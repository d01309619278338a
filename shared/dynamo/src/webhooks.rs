//! [`WebhookStore`] on the DynamoDB table (keys in [`crate::keys`], indexes in [`crate::schema`]).
//!
//! - **Webhooks**: one item each in the partition `W` (at most `MAX_WEBHOOKS`, read whole with one strongly
//!   consistent Query), the [`StoredWebhook`] as JSON in `d`. Written by admin requests and when an endpoint's
//!   health changes (the worker saves health only on material changes), so the shared partition stays cold.
//! - **Deliveries**: one item per delivery, keyed by its id (`WD#<id>`): the [`Delivery`]'s state as JSON in `d`
//!   and its payload in `p`, deflated with the lead data's preset dictionary (the standard payload carries the whole
//!   lead: a realistic one is 2.6 KB of JSON, 0.7 KB deflated, so its item is 1.3–1.4 KB and a save 2 write units,
//!   not 4), expiring
//!   [`DELIVERY_TTL_DAYS`] after creation through the table's TTL. Enqueueing is a put conditioned on
//!   `attribute_not_exists(pk)`, so a replayed change leaves the stored delivery untouched. Each delivery is
//!   listed once in `by_created` under its webhook's shard (`WL#<webhook>#<0–15>`, keys fixed at creation, so later
//!   saves write no index entry), and, only while pending, in the sparse `due` index (`WQ#<00–31>`, next attempt
//!   time first).
//! - **Deletes**: deleting a webhook deletes only its item. Its deliveries expire by TTL; meanwhile
//!   [`WebhookStore::delivery`] and [`WebhookStore::deliveries`] answer nothing for a webhook that does not exist,
//!   and [`WebhookStore::due_deliveries`] skips their pending ones and takes them out of the `due` index as it meets
//!   them. So a delivery saved after its webhook's deletion is never seen.
//! - **No hot reads**: [`WebhookStore::delivery`] is called once per attempt, so it must not read the shared `W`
//!   partition each time (thousands of attempts a second would exceed its 3,000 read units/s). It checks the
//!   webhook against the set of existing webhook ids this store read at most [`WEBHOOK_IDS_TTL`] ago ([`WebhookIds`];
//!   this process's own creates, saves and deletes refresh it at once): a deletion made by another process is seen
//!   within that time.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, TimeDelta, Utc};
use leadpipe_core::store::StoreError;
use leadpipe_webhooks::{
    Delivery, DeliveryPage, DeliveryQuery, DeliveryState, StoredWebhook, WebhookStore,
};
use uuid::Uuid;

use crate::codec::{attr, compress, decompress, s, Item};

/// PutItems of a fan-out's deliveries in flight at once (the heat model in bench/ sizes it: a 5 s batch of one
/// shard at 10,000 postbacks/s with one webhook is about 4,200 deliveries).
pub const DELIVERY_PUT_CONCURRENCY: usize = 32;
use crate::error::{internal, sdk_error};
use crate::keys::{self, PK};
use crate::schema::{index, TTL_ATTRIBUTE};
use crate::DynamoStore;

/// How long [`WebhookIds`] trusts its last read of the webhook partition.
pub const WEBHOOK_IDS_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The ids of the existing webhooks, as last read (at most [`WEBHOOK_IDS_TTL`] ago), shared by a store's clones.
#[derive(Debug, Default)]
pub struct WebhookIds(std::sync::Mutex<Option<(std::time::Instant, HashSet<Uuid>)>>);

impl WebhookIds {
    fn fresh(&self) -> Option<HashSet<Uuid>> {
        let guard = self.0.lock().ok()?;
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < WEBHOOK_IDS_TTL)
            .map(|(_, ids)| ids.clone())
    }

    fn set(&self, ids: HashSet<Uuid>) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some((std::time::Instant::now(), ids));
        }
    }

    fn forget(&self) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = None;
        }
    }
}

/// A delivery item's payload attribute (deflated).
const PAYLOAD: &str = "p";
/// Days a delivery is kept after its creation (then DynamoDB's TTL deletes it).
pub const DELIVERY_TTL_DAYS: i64 = 30;
/// Most `due` index entries one [`WebhookStore::due_deliveries`] call reads past (entries of disabled webhooks).
const DUE_READ_BUDGET: usize = 2_000;
/// Most `due` entries of deleted webhooks one call takes out of the index.
const DUE_CLEANUP_PER_CALL: usize = 100;

fn data<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let json = item
        .get(attr::DATA)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| internal("a webhook or delivery item without data"))?;
    serde_json::from_str(json)
        .map_err(|e| StoreError::Internal(format!("stored webhook data does not decode: {e}")))
}

fn encoded<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value)
        .map(AttributeValue::S)
        .map_err(internal)
}

fn string(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// A webhook's item.
pub fn webhook_item(webhook: &StoredWebhook) -> Result<Item, StoreError> {
    let mut item = keys::webhook_key(webhook.webhook.id);
    item.insert(attr::DATA.into(), encoded(webhook)?);
    Ok(item)
}

/// A delivery's item: its state and payload, its `by_created` listing entry, its `due` entry while pending, and
/// its expiry.
pub fn delivery_item(delivery: &Delivery) -> Result<Item, StoreError> {
    let mut item = keys::delivery_key(delivery.id);
    let payload = compress(delivery.payload.as_bytes())?;
    item.insert(
        attr::DATA.into(),
        encoded(&Delivery {
            payload: String::new(),
            ..delivery.clone()
        })?,
    );
    item.insert(PAYLOAD.into(), AttributeValue::B(Blob::new(payload)));
    item.insert(
        attr::LISTING_SHARD.into(),
        s(keys::delivery_list_shard(delivery.webhook_id, delivery.id)),
    );
    item.insert(
        attr::CREATED_KEY.into(),
        s(keys::delivery_list_key(delivery.created_at, delivery.id)),
    );
    let expires = delivery.created_at + TimeDelta::days(DELIVERY_TTL_DAYS);
    item.insert(
        TTL_ATTRIBUTE.into(),
        AttributeValue::N(expires.timestamp().to_string()),
    );
    if let (DeliveryState::Pending, Some(next)) = (delivery.state, delivery.next_attempt_at) {
        item.insert(attr::DUE_SHARD.into(), s(keys::due_shard(delivery.id)));
        item.insert(
            attr::DUE_KEY.into(),
            s(keys::due_sort_key(next, delivery.id, delivery.webhook_id)),
        );
    }
    Ok(item)
}

/// A delivery from its item.
pub fn delivery_from_item(item: &Item) -> Result<Delivery, StoreError> {
    let mut delivery: Delivery = data(item)?;
    let payload = item
        .get(PAYLOAD)
        .and_then(|v| v.as_b().ok())
        .ok_or_else(|| internal("a delivery item without its payload"))?;
    delivery.payload = String::from_utf8(decompress(payload.as_ref())?).map_err(internal)?;
    Ok(delivery)
}

/// One `due` index entry.
struct DueEntry {
    sort_key: String,
    delivery: Uuid,
    webhook: Uuid,
}

impl DynamoStore {
    /// The ids of the existing webhooks, from [`WebhookIds`] or read now.
    async fn existing_webhooks(&self) -> Result<HashSet<Uuid>, StoreError> {
        if let Some(ids) = self.webhook_ids.fresh() {
            return Ok(ids);
        }
        let ids: HashSet<Uuid> = self
            .webhooks()
            .await?
            .iter()
            .map(|w| w.webhook.id)
            .collect();
        Ok(ids)
    }

    /// Whether the webhook exists (a strongly consistent read of its item).
    async fn webhook_exists(&self, id: Uuid) -> Result<bool, StoreError> {
        Ok(self.get_item(keys::webhook_key(id), true).await?.is_some())
    }

    /// A put that may fail its condition: `Ok(false)` then.
    async fn put_if(&self, item: Item, condition: &str) -> Result<bool, StoreError> {
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Up to `want` entries of one `by_created` partition below `before` (newest first), all pages as needed.
    async fn delivery_entries(
        &self,
        partition: String,
        before: Option<&str>,
        want: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut entries = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index::BY_CREATED)
                .scan_index_forward(false)
                .expression_attribute_names("#p", attr::LISTING_SHARD)
                .expression_attribute_values(":p", s(&partition))
                .limit(i32::try_from(want - entries.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            query = match before {
                Some(before) => query
                    .key_condition_expression("#p = :p AND #k < :k")
                    .expression_attribute_names("#k", attr::CREATED_KEY)
                    .expression_attribute_values(":k", s(before)),
                None => query.key_condition_expression("#p = :p"),
            };
            let out = query.send().await.map_err(sdk_error)?;
            entries.extend(
                out.items
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|i| string(i, attr::CREATED_KEY)),
            );
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() && entries.len() < want => start = Some(k),
                _ => return Ok(entries),
            }
        }
    }

    /// Reads one `due` partition earliest first, keeping entries of `enabled` webhooks until it has `want` of them
    /// (or read `budget` entries); entries of webhooks not in `existing` go to `orphans`.
    async fn due_entries(
        &self,
        partition: String,
        until: &str,
        want: usize,
        enabled: &HashSet<Uuid>,
        existing: &HashSet<Uuid>,
    ) -> Result<(Vec<DueEntry>, Vec<DueEntry>), StoreError> {
        let (mut due, mut orphans, mut read) = (Vec::new(), Vec::new(), 0usize);
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index::DUE)
                .key_condition_expression("#p = :p AND #k <= :k")
                .expression_attribute_names("#p", attr::DUE_SHARD)
                .expression_attribute_names("#k", attr::DUE_KEY)
                .expression_attribute_values(":p", s(&partition))
                .expression_attribute_values(":k", s(until))
                .limit(i32::try_from(want.max(10)).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                read += 1;
                let Some(sort_key) = string(&item, attr::DUE_KEY) else {
                    continue;
                };
                let Some((delivery, webhook)) = keys::due_ids(&sort_key) else {
                    continue;
                };
                let entry = DueEntry {
                    sort_key,
                    delivery,
                    webhook,
                };
                if enabled.contains(&webhook) {
                    due.push(entry);
                } else if !existing.contains(&webhook) {
                    orphans.push(entry);
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() && due.len() < want && read < DUE_READ_BUDGET => {
                    start = Some(k)
                }
                _ => return Ok((due, orphans)),
            }
        }
    }

    /// Takes a delivery of a deleted webhook out of the `due` index (if it was not rescheduled meanwhile).
    async fn drop_due(&self, entry: &DueEntry) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::delivery_key(entry.delivery)))
            .update_expression("REMOVE #p, #k")
            .condition_expression("#k = :k")
            .expression_attribute_names("#p", attr::DUE_SHARD)
            .expression_attribute_names("#k", attr::DUE_KEY)
            .expression_attribute_values(":k", s(&entry.sort_key))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// The deliveries of these ids (strongly consistent), by id; missing ones (expired) are left out.
    async fn deliveries_by_id(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Delivery>, StoreError> {
        let keys: Vec<keys::Key> = ids.iter().map(|id| keys::delivery_key(*id)).collect();
        let items = crate::batch::get(&self.client, &self.table, keys, true).await?;
        items
            .iter()
            .filter_map(|item| {
                string(item, PK)
                    .and_then(|pk| keys::delivery_id_of(&pk))
                    .map(|id| (id, item))
            })
            .map(|(id, item)| Ok((id, delivery_from_item(item)?)))
            .collect()
    }
}

#[async_trait]
impl WebhookStore for DynamoStore {
    async fn create_webhook(&self, webhook: &StoredWebhook) -> Result<(), StoreError> {
        let created = self
            .put_if(webhook_item(webhook)?, "attribute_not_exists(pk)")
            .await;
        self.webhook_ids.forget();
        if created? {
            Ok(())
        } else {
            Err(StoreError::Internal(format!(
                "webhook {} already exists",
                webhook.webhook.id
            )))
        }
    }

    async fn webhooks(&self) -> Result<Vec<StoredWebhook>, StoreError> {
        let items = self.query_partition(keys::WEBHOOKS_PK).await?;
        let mut webhooks = items
            .iter()
            .map(data::<StoredWebhook>)
            .collect::<Result<Vec<_>, _>>()?;
        webhooks.sort_by_key(|w| (w.created_at, w.webhook.id));
        self.webhook_ids
            .set(webhooks.iter().map(|w| w.webhook.id).collect());
        Ok(webhooks)
    }

    async fn webhook(&self, id: Uuid) -> Result<Option<StoredWebhook>, StoreError> {
        self.get_item(keys::webhook_key(id), true)
            .await?
            .as_ref()
            .map(data)
            .transpose()
    }

    async fn save_webhook(&self, webhook: &StoredWebhook) -> Result<(), StoreError> {
        // Conditioned on the item existing: a webhook deleted meanwhile stays deleted.
        let saved = self
            .put_if(webhook_item(webhook)?, "attribute_exists(pk)")
            .await;
        self.webhook_ids.forget();
        saved.map(|_| ())
    }

    async fn delete_webhook(&self, id: Uuid) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::webhook_key(id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        self.webhook_ids.forget();
        Ok(out
            .map_err(sdk_error)?
            .attributes
            .is_some_and(|a| !a.is_empty()))
    }

    async fn enqueue_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        use futures_util::StreamExt;
        let mut seen = HashSet::new();
        let puts = deliveries
            .iter()
            .filter(|d| seen.insert(d.id))
            .map(|d| Ok(self.put_if(delivery_item(d)?, "attribute_not_exists(pk)")))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // At most DELIVERY_PUT_CONCURRENCY in flight: a stream batch can fan out to thousands of deliveries.
        let mut results =
            futures_util::stream::iter(puts).buffer_unordered(DELIVERY_PUT_CONCURRENCY);
        while let Some(result) = results.next().await {
            result?;
        }
        Ok(())
    }

    async fn delivery(&self, webhook_id: Uuid, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        let (item, existing) = tokio::join!(
            self.get_item(keys::delivery_key(id), true),
            self.existing_webhooks()
        );
        if !existing?.contains(&webhook_id) {
            return Ok(None);
        }
        let delivery = item?.as_ref().map(delivery_from_item).transpose()?;
        Ok(delivery.filter(|d| d.webhook_id == webhook_id))
    }

    async fn save_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        // Replaces only a stored delivery (one that expired stays gone). A delivery of a deleted webhook may still
        // be written here; it is never read again (see the module docs).
        self.put_if(delivery_item(delivery)?, "attribute_exists(pk)")
            .await
            .map(|_| ())
    }

    async fn deliveries(&self, query: &DeliveryQuery) -> Result<DeliveryPage, StoreError> {
        let limit = query.limit;
        let after = query.after.as_deref();
        // A cursor is a listing key this store handed out; anything else matches nothing.
        if limit == 0
            || after.is_some_and(|a| !keys::is_delivery_list_key(a))
            || !self.webhook_exists(query.webhook_id).await?
        {
            return Ok(DeliveryPage::default());
        }
        // Each shard's newest `limit + 1` below the cursor hold the overall newest `limit + 1`.
        let reads = keys::delivery_list_shards(query.webhook_id)
            .map(|shard| self.delivery_entries(shard, after, limit + 1));
        let mut entries = Vec::new();
        for result in futures_util::future::join_all(reads).await {
            entries.extend(result?);
        }
        entries.sort_unstable_by(|a, b| b.cmp(a));
        let more = entries.len() > limit;
        entries.truncate(limit);
        let ids: Vec<Uuid> = entries
            .iter()
            .filter_map(|k| k.split_once('#').and_then(|(_, id)| id.parse().ok()))
            .collect::<Vec<Uuid>>();
        let mut found = self.deliveries_by_id(&ids).await?;
        let deliveries = ids
            .iter()
            .filter_map(|id| found.remove(id))
            .filter(|d| d.webhook_id == query.webhook_id)
            .collect();
        Ok(DeliveryPage {
            deliveries,
            next_after: if more { entries.last().cloned() } else { None },
        })
    }

    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let webhooks = self.webhooks().await?;
        let existing: HashSet<Uuid> = webhooks.iter().map(|w| w.webhook.id).collect();
        let enabled: HashSet<Uuid> = webhooks
            .iter()
            .filter(|w| w.webhook.enabled)
            .map(|w| w.webhook.id)
            .collect();
        if enabled.is_empty() {
            // Nothing can be due (webhooks off costs one read); entries of deleted webhooks are cleaned up later.
            return Ok(Vec::new());
        }
        let until = keys::due_until(now);
        let reads = keys::due_shards()
            .map(|shard| self.due_entries(shard, &until, limit, &enabled, &existing));
        let (mut due, mut orphans) = (Vec::new(), Vec::new());
        for result in futures_util::future::join_all(reads).await {
            let (d, o) = result?;
            due.extend(d);
            orphans.extend(o);
        }
        orphans.truncate(DUE_CLEANUP_PER_CALL);
        for result in futures_util::future::join_all(orphans.iter().map(|o| self.drop_due(o))).await
        {
            result?;
        }
        due.sort_unstable_by(|a, b| a.sort_key.cmp(&b.sort_key));
        due.truncate(limit);
        let ids: Vec<Uuid> = due.iter().map(|e| e.delivery).collect();
        let mut found = self.deliveries_by_id(&ids).await?;
        // The index lags its items a little in DynamoDB: keep only what the item itself says is due.
        Ok(ids
            .iter()
            .zip(&due)
            .filter_map(|(id, entry)| {
                found
                    .remove(id)
                    .filter(|d| d.webhook_id == entry.webhook && d.is_due(now))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use leadpipe_core::domain::merge::{new_lead, Access};
    use leadpipe_core::domain::{Pipeline, Postback};
    use leadpipe_webhooks::{
        delivery_id, dispatch, event_for, Format, Secret, Webhook, WebhookSpec,
    };

    use super::*;
    use crate::size::{item_size, read_units, write_units};

    fn realistic_delivery(format: Format) -> Delivery {
        let pipeline = Pipeline::default();
        let body = crate::codec::realistic_body().to_string();
        let pb = Postback::parse(body.as_bytes(), &pipeline, None)
            .map(|p| p.postback)
            .expect("the realistic body parses");
        let now = leadpipe_core::service::now();
        let lead = new_lead(&pb, &pipeline, Uuid::new_v4(), now, &Access::Full).lead;
        let event = event_for(None, Some(&lead), now)
            .ok()
            .flatten()
            .expect("a creation is an event");
        let mut spec = serde_json::json!({"url": "https://hooks.example.com/leadpipe", "events": ["lead.created"], "format": format});
        if format != Format::Standard {
            spec["event_names"] = serde_json::json!({"Form Started": "Lead"});
            // Sized as sent: with the lead's data (the realistic lead records no consent).
            spec["consent"] = "not_required".into();
        }
        if format == Format::TikTok {
            spec["event_source_id"] = "C0FFEE1234567890ABCD".into();
        }
        let spec =
            WebhookSpec::parse(spec.to_string().as_bytes(), &pipeline).expect("a valid webhook");
        let webhook = Webhook::new(Uuid::new_v4(), spec, Secret::generate().expect("a secret"));
        let d = dispatch(std::slice::from_ref(&webhook), &event)
            .pop()
            .expect("one dispatch");
        Delivery::new(delivery_id(webhook.id, &d.message_id), d, now)
    }

    #[test]
    fn a_realistic_delivery_round_trips_and_costs_two_write_units() {
        for format in [
            Format::Standard,
            Format::MetaCapi,
            Format::Ga4,
            Format::TikTok,
        ] {
            let mut delivery = realistic_delivery(format);
            let item = delivery_item(&delivery).unwrap();
            assert_eq!(delivery_from_item(&item).unwrap(), delivery);
            let pending = item_size(&item);
            delivery.record_attempt(
                &leadpipe_webhooks::AttemptOutcome::Response {
                    status: 200,
                    retry_after: None,
                },
                delivery.created_at,
                &Default::default(),
                &mut fastrand_rng(),
            );
            let done = item_size(&delivery_item(&delivery).unwrap());

            eprintln!(
                "{format:?}: payload {} B, item pending {pending} B ({} WRU), delivered {done} B ({} WRU), read {} RRU",
                delivery.payload.len(),
                write_units(pending),
                write_units(done),
                read_units(done, true)
            );
            assert!(
                write_units(pending) <= 2 && write_units(done) <= 2,
                "{format:?}: {pending} / {done} B"
            );
        }
    }

    fn fastrand_rng() -> fastrand::Rng {
        fastrand::Rng::with_seed(1)
    }
}
