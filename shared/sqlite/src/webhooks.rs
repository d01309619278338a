//! [`WebhookStore`] on SQLite: the `webhooks` and `deliveries` tables.
//!
//! Each row keeps the whole value as JSON in `data`, next to the columns queries use: a webhook's `created_key`
//! (listing order) and `enabled` (whether lead writes record changes, see [`crate::SqliteStore::lead_changes`]);
//! a delivery's `webhook_id` and `list_key` (`<created time>#<id>`, the listing order and cursor) and `due` (its next
//! attempt's time while pending, NULL otherwise, so the partial index `deliveries_due` holds only pending
//! deliveries). Deleting a webhook deletes its deliveries in the same transaction. Writes run on the writing
//! connection, which also keeps the store's "an enabled webhook exists" flag in step with the table.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use leadpipe_core::domain::lead::key_time;
use leadpipe_core::store::StoreError;
use leadpipe_webhooks::{
    Delivery, DeliveryPage, DeliveryQuery, DeliveryState, StoredWebhook, WebhookStore,
};

use crate::{decode, encode, internal, SqliteStore};

/// Whether the `webhooks` table holds an enabled webhook.
pub(crate) fn any_enabled(c: &Connection) -> Result<bool, StoreError> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM webhooks WHERE enabled = 1)")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(internal)
}

/// A delivery's listing key: creation time, then id (newest first = descending).
fn list_key(d: &Delivery) -> String {
    format!("{}#{}", key_time(d.created_at), d.id)
}

/// Whether `cursor` has the shape of a [`list_key`] (cursors come from clients).
fn is_list_key(cursor: &str) -> bool {
    cursor.split_once('#').is_some_and(|(time, id)| {
        DateTime::parse_from_rfc3339(time).is_ok() && id.parse::<Uuid>().is_ok()
    })
}

/// A pending delivery's due time; `None` once delivered or failed.
fn due_key(d: &Delivery) -> Option<String> {
    match d.state {
        DeliveryState::Pending => d.next_attempt_at.map(key_time),
        DeliveryState::Delivered | DeliveryState::Failed => None,
    }
}

fn read_deliveries(
    c: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<(String, Delivery)>, StoreError> {
    let mut st = c.prepare_cached(sql).map_err(internal)?;
    let rows = st
        .query_map(args, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(internal)?;
    rows.map(|row| {
        let (key, data) = row.map_err(internal)?;
        Ok((key, decode(&data)?))
    })
    .collect()
}

impl SqliteStore {
    /// Runs a webhook write on the writing connection in one transaction, then refreshes the "an enabled webhook
    /// exists" flag before letting go of the connection.
    async fn webhook_write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let on = std::sync::Arc::clone(&self.webhooks_on);
        self.with_conn(move |c| {
            c.execute_batch("BEGIN IMMEDIATE").map_err(internal)?;
            let result = f(c).and_then(|v| c.execute_batch("COMMIT").map(|_| v).map_err(internal));
            if result.is_err() {
                let _ = c.execute_batch("ROLLBACK");
            }
            on.store(any_enabled(c)?, Ordering::Release);
            result
        })
        .await
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, webhook: &StoredWebhook) -> Result<(), StoreError> {
        let (id, created, enabled, data) = (
            webhook.webhook.id.to_string(),
            key_time(webhook.created_at),
            webhook.webhook.enabled,
            encode(webhook)?,
        );
        self.webhook_write(move |c| {
            c.prepare_cached(
                "INSERT INTO webhooks (id, created_key, enabled, data) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| st.execute(params![id, created, enabled, data]))
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn webhooks(&self) -> Result<Vec<StoredWebhook>, StoreError> {
        self.read(|c| {
            let mut st = c
                .prepare_cached("SELECT data FROM webhooks ORDER BY created_key, id")
                .map_err(internal)?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(internal)?;
            rows.map(|row| decode(&row.map_err(internal)?)).collect()
        })
        .await
    }

    async fn webhook(&self, id: Uuid) -> Result<Option<StoredWebhook>, StoreError> {
        self.read(move |c| {
            let data: Option<String> = c
                .prepare_cached("SELECT data FROM webhooks WHERE id = ?1")
                .and_then(|mut st| st.query_row([id.to_string()], |r| r.get(0)).optional())
                .map_err(internal)?;
            data.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn save_webhook(&self, webhook: &StoredWebhook) -> Result<(), StoreError> {
        let (id, enabled, data) = (
            webhook.webhook.id.to_string(),
            webhook.webhook.enabled,
            encode(webhook)?,
        );
        self.webhook_write(move |c| {
            // An UPDATE: a webhook deleted meanwhile stays deleted.
            c.prepare_cached("UPDATE webhooks SET enabled = ?2, data = ?3 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![id, enabled, data]))
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn delete_webhook(&self, id: Uuid) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.webhook_write(move |c| {
            let n = c
                .prepare_cached("DELETE FROM webhooks WHERE id = ?1")
                .and_then(|mut st| st.execute([&id]))
                .map_err(internal)?;
            c.prepare_cached("DELETE FROM deliveries WHERE webhook_id = ?1")
                .and_then(|mut st| st.execute([&id]))
                .map_err(internal)?;
            Ok(n > 0)
        })
        .await
    }

    async fn enqueue_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let rows = deliveries
            .iter()
            .map(|d| {
                Ok((
                    d.id.to_string(),
                    d.webhook_id.to_string(),
                    list_key(d),
                    due_key(d),
                    encode(d)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.webhook_write(move |c| {
            // Only for a webhook that exists; an id already stored keeps its row untouched.
            let mut st = c
                .prepare_cached(
                    "INSERT INTO deliveries (id, webhook_id, list_key, due, data) \
                     SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?2) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .map_err(internal)?;
            for (id, webhook_id, key, due, data) in rows {
                st.execute(params![id, webhook_id, key, due, data])
                    .map_err(internal)?;
            }
            Ok(())
        })
        .await
    }

    async fn delivery(&self, webhook_id: Uuid, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        self.read(move |c| {
            let data: Option<String> = c
                .prepare_cached("SELECT data FROM deliveries WHERE id = ?1 AND webhook_id = ?2")
                .and_then(|mut st| {
                    st.query_row([id.to_string(), webhook_id.to_string()], |r| r.get(0))
                        .optional()
                })
                .map_err(internal)?;
            data.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn save_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let (id, webhook_id, key, due, data) = (
            delivery.id.to_string(),
            delivery.webhook_id.to_string(),
            list_key(delivery),
            due_key(delivery),
            encode(delivery)?,
        );
        self.with_conn(move |c| {
            // One statement: stored only while its webhook exists (delete_webhook removes both in one transaction).
            c.prepare_cached(
                "INSERT INTO deliveries (id, webhook_id, list_key, due, data) \
                 SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?2) \
                 ON CONFLICT (id) DO UPDATE SET due = excluded.due, data = excluded.data",
            )
            .and_then(|mut st| st.execute(params![id, webhook_id, key, due, data]))
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn deliveries(&self, query: &DeliveryQuery) -> Result<DeliveryPage, StoreError> {
        let (webhook_id, limit) = (query.webhook_id.to_string(), query.limit);
        // A cursor is a listing key this store handed out; anything else matches nothing.
        if query.after.as_deref().is_some_and(|a| !is_list_key(a)) {
            return Ok(DeliveryPage::default());
        }
        // '~' sorts after every listing key (they start with a digit).
        let after = query.after.clone().unwrap_or_else(|| "~".into());
        self.read(move |c| {
            let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
            let rows = read_deliveries(
                c,
                "SELECT list_key, data FROM deliveries WHERE webhook_id = ?1 AND list_key < ?2 ORDER BY list_key DESC LIMIT ?3",
                params![webhook_id, after, fetch],
            )?;
            let mut page = DeliveryPage::default();
            let more = rows.len() > limit;
            let mut last = None;
            for (key, delivery) in rows.into_iter().take(limit) {
                page.deliveries.push(delivery);
                last = Some(key);
            }
            page.next_after = if more { last } else { None };
            Ok(page)
        })
        .await
    }

    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (now, limit) = (key_time(now), i64::try_from(limit).unwrap_or(i64::MAX));
        self.read(move |c| {
            let rows = read_deliveries(
                c,
                "SELECT d.id, d.data FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.due IS NOT NULL AND d.due <= ?1 AND w.enabled = 1 ORDER BY d.due, d.id LIMIT ?2",
                params![now, limit],
            )?;
            Ok(rows.into_iter().map(|(_, d)| d).collect())
        })
        .await
    }
}
