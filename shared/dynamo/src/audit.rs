//! The audit log on DynamoDB (sizes and cost per event in `docs/DYNAMODB.md`).
//!
//! - **entry**: `pk = AUDIT#<yyyy-mm-dd>#<shard>` (its UTC day, and one of [`SHARDS`] shards picked by the id's
//!   random bits, so a scripted flood of failed sign-ins spreads over eight partitions instead of making one hot
//!   key), `sk = <uuid v7 id>` (sorts by time), with `d` (the entry as JSON), `ac` (actor label, lower-case),
//!   `aa` (action), `tg` (target) to filter on, and `ttl` = written + `AUDIT_RETENTION_DAYS` so DynamoDB deletes
//!   it for free after the retention.
//!
//! A page is read newest first: from the query's last day (or its cursor's day) back to its first, the day's
//! shards are queried at once (descending, below the cursor, filtered) and merged by id. Never a scan. Entries
//! are written once with a conditional put (append-only: an id already stored is left as it is).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};
use leadpipe_core::domain::audit::{AuditEntry, AuditPage, AuditQuery, SHARDS};
use leadpipe_core::store::StoreError;

use crate::codec::{attr, n, s, Item};
use crate::error::{internal, sdk_error};
use crate::keys::{self, PK, SK};
use crate::store::DynamoStore;

/// Attribute: the actor's label, lower-case.
const ACTOR: &str = "ac";
/// Attribute: the action's dotted name.
const ACTION: &str = "aa";
/// Attribute: the target.
const TARGET: &str = "tg";

/// The partition of one shard of a day's audit log.
pub fn audit_pk(day: NaiveDate, shard: u8) -> String {
    format!("AUDIT#{}#{shard}", day.format("%Y-%m-%d"))
}

/// The item of an audit entry, kept until `expires_at`.
pub fn audit_item(entry: &AuditEntry, expires_at: DateTime<Utc>) -> Result<Item, StoreError> {
    let mut item = keys::key(audit_pk(entry.day(), entry.shard()), entry.id.to_string());
    item.insert(
        attr::DATA.into(),
        s(serde_json::to_string(entry).map_err(internal)?),
    );
    item.insert(ACTOR.into(), s(entry.actor_label().to_lowercase()));
    item.insert(ACTION.into(), s(entry.action.as_str()));
    item.insert(TARGET.into(), s(entry.target.clone()));
    item.insert(
        crate::schema::TTL_ATTRIBUTE.into(),
        n(expires_at.timestamp()),
    );
    Ok(item)
}

fn entry_of(item: &Item) -> Result<AuditEntry, StoreError> {
    let Some(AttributeValue::S(data)) = item.get(attr::DATA) else {
        return Err(internal("audit item without data"));
    };
    serde_json::from_str(data).map_err(|e| internal(format!("audit entry does not decode: {e}")))
}

impl DynamoStore {
    pub(crate) async fn put_audit(
        &self,
        entry: &AuditEntry,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(entry, expires_at)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Up to `need` entries of one shard of one day that pass `q`, newest first (all pages until enough).
    async fn audit_shard(
        &self,
        q: &AuditQuery,
        day: NaiveDate,
        shard: u8,
        need: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let now = Utc::now().timestamp();
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#ttl", crate::schema::TTL_ATTRIBUTE)
                .expression_attribute_values(":pk", s(audit_pk(day, shard)))
                .expression_attribute_values(":now", n(now))
                .scan_index_forward(false)
                .limit(i32::try_from(need).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            let mut filters = vec!["#ttl > :now"];
            req = match q.cursor {
                Some(c) => req
                    .key_condition_expression("#pk = :pk AND #sk < :below")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":below", s(c.to_string())),
                None => req.key_condition_expression("#pk = :pk"),
            };
            if let Some(a) = &q.actor {
                filters.push("#ac = :ac");
                req = req
                    .expression_attribute_names("#ac", ACTOR)
                    .expression_attribute_values(":ac", s(a.clone()));
            }
            if let Some(a) = q.action {
                filters.push("#aa = :aa");
                req = req
                    .expression_attribute_names("#aa", ACTION)
                    .expression_attribute_values(":aa", s(a.as_str()));
            }
            if let Some(t) = &q.target {
                filters.push("#tg = :tg");
                req = req
                    .expression_attribute_names("#tg", TARGET)
                    .expression_attribute_values(":tg", s(t.clone()));
            }
            let out = req
                .filter_expression(filters.join(" AND "))
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                found.push(entry_of(&item)?);
            }
            match out.last_evaluated_key {
                Some(k) if found.len() < need && !k.is_empty() => start = Some(k),
                _ => return Ok(found),
            }
        }
    }

    pub(crate) async fn audit_page(&self, q: &AuditQuery) -> Result<AuditPage, StoreError> {
        let mut page = AuditPage::default();
        let mut day = q.first_day();
        while day >= q.from {
            let need = q.limit + 1 - page.entries.len();
            let reads = (0..SHARDS).map(|shard| self.audit_shard(q, day, shard, need));
            let mut rows = Vec::new();
            for shard in futures_util::future::join_all(reads).await {
                rows.extend(shard?);
            }
            rows.sort_by_key(|e| std::cmp::Reverse(e.id));
            page.entries.extend(rows.into_iter().take(need));
            if page.entries.len() > q.limit {
                page.entries.truncate(q.limit);
                page.next_cursor = page.entries.last().map(|e| e.id.to_string());
                return Ok(page);
            }
            let Some(before) = day.pred_opt() else { break };
            day = before;
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadpipe_core::domain::audit::AuditAction;
    use leadpipe_core::domain::{Actor, ActorKind, Role};

    /// A realistic entry: a person's manual move, and the largest summary a route writes (a lead deleted). The
    /// sizes are what `docs/DYNAMODB.md` prices.
    #[test]
    fn a_realistic_audit_item_is_one_write_unit() {
        let actor = Actor {
            kind: ActorKind::User {
                id: uuid::Uuid::new_v4(),
                email: "ana.martinez@example-agency.com".into(),
            },
            role: Role::Member,
        };
        let at = Utc::now();
        let moved = AuditEntry::new(
            at,
            actor.clone(),
            Some("2001:db8:85a3::8a2e:370:7334".into()),
            AuditAction::LeadStageMoved,
            &uuid::Uuid::new_v4().to_string(),
            serde_json::json!({"from": "Application Submitted", "to": "Paid"}),
        );
        let deleted = AuditEntry::new(
            at,
            actor,
            Some("203.0.113.250".into()),
            AuditAction::LeadDeleted,
            &uuid::Uuid::new_v4().to_string(),
            serde_json::json!({"stage": "Application Submitted", "email": "john.smith.1984@gmail.com", "orders": 2}),
        );
        for e in [moved, deleted] {
            let item = audit_item(&e, e.expires_at(400)).unwrap();
            let size = crate::size::item_size(&item);
            eprintln!("audit item {}: {size} B", e.action);
            assert!(size < 1024, "{size} B");
            assert_eq!(entry_of(&item).unwrap(), e);
        }
    }
}
