//! Privacy on DynamoDB: the privacy key, the suppression list and erasing a person's copies (see
//! [`leadpipe_core::store::LeadStore::erase_copies`]).
//!
//! | item | `pk` | `sk` | |
//! |---|---|---|---|
//! | privacy key and list size | `Z` | `Z` | read at most once a minute per process; written once per new suppression |
//! | suppression entry | `Z#<keyed email hash>` | `Z` | one partition per address: no shared key |
//!
//! Copies are found where they are kept by time or by lead, never by a table scan: the lead's partition (stage
//! history), the postback log's day partitions (`P#<status>#<day>#<shard>`, as far back as entries live), each
//! webhook's delivery listing, and the audit log's day partitions. Idempotency replays (`D#…`, one partition per
//! event id, kept a day) hold the lead id and stage, never personal data, and are left to expire. The table's
//! stream keeps change images for 24 hours; point-in-time backups as docs/PRIVACY.md says.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use leadpipe_core::domain::audit::SHARDS as AUDIT_SHARDS;
use leadpipe_core::domain::privacy::{
    holds_personal_lead, redacted_summary, ErasedCopies, ErasureScope,
};
use leadpipe_core::domain::AuditEntry;
use leadpipe_core::store::{LogStatus, PersonCopies, PostbackLogEntry, PrivacyState, StoreError};
use leadpipe_webhooks::{Delivery, DeliveryQuery, WebhookStore};
use uuid::Uuid;

use crate::audit::audit_pk;
use crate::codec::{attr, n, s, Item};
use crate::error::{internal, sdk_error};
use crate::keys::{self, PK, SK};
use crate::store::DynamoStore;

/// Partitions queried at once while looking for copies.
const PARALLEL_QUERIES: usize = 16;
/// Deliveries read per page of a webhook's listing.
const DELIVERY_PAGE: usize = 100;

const STATE_PK: &str = "Z";
const KEY_ATTRIBUTE: &str = "key";
const COUNT_ATTRIBUTE: &str = "n";

fn suppression_item_key(key: &str) -> keys::Key {
    keys::key(format!("Z#{key}"), "Z")
}

fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

impl DynamoStore {
    /// Puts `item` only if its key is free; `false` when it exists already.
    async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// The privacy key (created by the first caller with a conditional put) and the list size: one eventually
    /// consistent GetItem (0.5 RRU), strongly consistent after creating the item.
    pub(crate) async fn privacy_state_item(&self) -> Result<PrivacyState, StoreError> {
        for consistent in [false, true] {
            let item = self
                .get_item(keys::key(STATE_PK, STATE_PK), consistent)
                .await?;
            if let Some(item) = item {
                let Some(AttributeValue::B(key)) = item.get(KEY_ATTRIBUTE) else {
                    return Err(internal("privacy item without a key"));
                };
                let count = match item.get(COUNT_ATTRIBUTE) {
                    Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
                    _ => 0,
                };
                return Ok(PrivacyState {
                    key: key.clone().into_inner(),
                    suppressions: count,
                });
            }
            let fresh: Vec<u8> = [Uuid::new_v4(), Uuid::new_v4()]
                .iter()
                .flat_map(|u| *u.as_bytes())
                .collect();
            let mut item = keys::key(STATE_PK, STATE_PK);
            item.insert(
                KEY_ATTRIBUTE.into(),
                AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(fresh)),
            );
            item.insert(COUNT_ATTRIBUTE.into(), n(0));
            // Another process may have created it first: either way it exists now.
            self.put_new(item).await?;
        }
        Err(internal("privacy item could not be created"))
    }

    /// Adds an entry (a new one also counts up the list size).
    pub(crate) async fn put_suppression(
        &self,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut item = suppression_item_key(key);
        item.insert("at".into(), s(at.to_rfc3339()));
        if !self.put_new(item).await? {
            return Ok(());
        }
        self.privacy_state_item().await?;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::key(STATE_PK, STATE_PK)))
            .update_expression("ADD #n :one")
            .expression_attribute_names("#n", COUNT_ATTRIBUTE)
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Whether an entry exists: an eventually consistent GetItem of a ~100-byte item, 0.5 RRU (an entry written
    /// less than about a second ago may be missed; the erasure waits that long before its last look).
    pub(crate) async fn has_suppression(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .get_item(suppression_item_key(key), false)
            .await?
            .is_some())
    }

    /// See the module documentation.
    pub(crate) async fn erase_person_copies(
        &self,
        scope: &ErasureScope,
    ) -> Result<ErasedCopies, StoreError> {
        let mut copies = ErasedCopies::default();
        for id in &scope.lead_ids {
            let key = keys::lead_key(*id);
            let Some(AttributeValue::S(pk)) = key.get(PK) else {
                continue;
            };
            for item in self.query_partition(pk).await? {
                self.delete_key(&item).await?;
                copies.history += 1;
            }
        }
        copies.postback_log = self.erase_postback_log(scope).await?;
        copies.deliveries = self.erase_deliveries(scope).await?;
        copies.audit_redacted = self.redact_audit(scope).await?;
        Ok(copies)
    }

    async fn delete_key(&self, item: &Item) -> Result<(), StoreError> {
        let key: keys::Key = [PK, SK]
            .iter()
            .filter_map(|k| item.get(*k).map(|v| ((*k).to_string(), v.clone())))
            .collect();
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Every item of each partition in `pks`, a few partitions at a time.
    async fn items_of(&self, pks: Vec<String>) -> Result<Vec<Item>, StoreError> {
        let pages: Vec<Vec<Item>> = stream::iter(pks)
            .map(|pk| async move { self.query_partition(&pk).await })
            .buffer_unordered(PARALLEL_QUERIES)
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// The postback-log items that hold the person, from every day an entry can still live.
    async fn matching_log_items(&self, scope: &ErasureScope) -> Result<Vec<Item>, StoreError> {
        let today = Utc::now().date_naive();
        let mut pks = Vec::new();
        for back in 0..=i64::from(scope.postback_log_days) {
            let day = today - Duration::days(back);
            for status in [LogStatus::Rejected, LogStatus::Quarantined] {
                pks.extend(
                    (0..keys::LOG_SHARDS).map(|shard| keys::log_pk(status.as_str(), day, shard)),
                );
            }
        }
        Ok(self
            .items_of(pks)
            .await?
            .into_iter()
            .filter(|item| match item.get(attr::DATA) {
                Some(AttributeValue::S(d)) => scope.matches(d),
                _ => false,
            })
            .collect())
    }

    async fn erase_postback_log(&self, scope: &ErasureScope) -> Result<u64, StoreError> {
        let items = self.matching_log_items(scope).await?;
        for item in &items {
            self.delete_key(item).await?;
        }
        Ok(items.len() as u64)
    }

    /// Every stored delivery whose payload mentions the person (by needle or lead id), with whether it carries
    /// them (a needle, or a lead image that is not stripped: what an erasure deletes).
    async fn matching_deliveries(
        &self,
        scope: &ErasureScope,
    ) -> Result<Vec<(Delivery, bool)>, StoreError> {
        let needles = ErasureScope {
            lead_ids: Vec::new(),
            ..scope.clone()
        };
        let mut found = Vec::new();
        for webhook in self.webhooks().await? {
            let mut query = DeliveryQuery {
                webhook_id: webhook.webhook.id,
                limit: DELIVERY_PAGE,
                after: None,
            };
            loop {
                let page = self.deliveries(&query).await?;
                for delivery in page.deliveries {
                    if scope.matches(&delivery.payload) {
                        let carries = needles.matches(&delivery.payload)
                            || holds_personal_lead(&delivery.payload);
                        found.push((delivery, carries));
                    }
                }
                match page.next_after {
                    Some(after) => query.after = Some(after),
                    None => break,
                }
            }
        }
        Ok(found)
    }

    async fn erase_deliveries(&self, scope: &ErasureScope) -> Result<u64, StoreError> {
        let mut erased = 0;
        for (delivery, carries) in self.matching_deliveries(scope).await? {
            if carries {
                self.delete_key(&keys::delivery_key(delivery.id)).await?;
                erased += 1;
            }
        }
        Ok(erased)
    }

    /// The audit items whose entry's summary or target holds the person, with the entries.
    async fn matching_audit(
        &self,
        scope: &ErasureScope,
    ) -> Result<Vec<(Item, AuditEntry)>, StoreError> {
        let today = Utc::now().date_naive();
        let pks = (0..=i64::from(scope.audit_days))
            .flat_map(|back| {
                let day = today - Duration::days(back);
                (0..AUDIT_SHARDS).map(move |shard| audit_pk(day, shard))
            })
            .collect();
        let mut found = Vec::new();
        for item in self.items_of(pks).await? {
            let Some(AttributeValue::S(data)) = item.get(attr::DATA) else {
                continue;
            };
            let Ok(entry) = serde_json::from_str::<AuditEntry>(data) else {
                continue;
            };
            let summary = serde_json::to_string(&entry.summary).unwrap_or_default();
            if scope.matches(&summary) || scope.matches(&entry.target) {
                found.push((item, entry));
            }
        }
        Ok(found)
    }

    async fn redact_audit(&self, scope: &ErasureScope) -> Result<u64, StoreError> {
        let mut redacted = 0;
        for (mut item, mut entry) in self.matching_audit(scope).await? {
            entry.summary = redacted_summary();
            item.insert(
                attr::DATA.into(),
                s(serde_json::to_string(&entry).map_err(internal)?),
            );
            self.put_item(item).await?;
            redacted += 1;
        }
        Ok(redacted)
    }

    /// What is kept about the person beside their leads (an access request).
    pub(crate) async fn person_copies_of(
        &self,
        scope: &ErasureScope,
    ) -> Result<PersonCopies, StoreError> {
        let mut copies = PersonCopies::default();
        for item in self.matching_log_items(scope).await? {
            if let Some(AttributeValue::S(data)) = item.get(attr::DATA) {
                if let Ok(entry) = serde_json::from_str::<PostbackLogEntry>(data) {
                    copies.postback_log.push(entry);
                }
            }
        }
        for (delivery, _) in self.matching_deliveries(scope).await? {
            copies
                .deliveries
                .push(serde_json::to_value(&delivery).map_err(internal)?);
        }
        copies.audit = self
            .matching_audit(scope)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        Ok(copies)
    }
}
