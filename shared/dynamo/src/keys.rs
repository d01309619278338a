//! Every key of the table, built in one place (table design version [`DESIGN_VERSION`]).
//!
//! | item | `pk` | `sk` | written by |
//! |---|---|---|---|
//! | lead | `L#<id>` | `L` | the write path (postback, stage, delete) |
//! | stage change | `L#<id>` | `H#<version, 20 digits>` | the stream consumer |
//!
//! (`<id>` in a key is the lead's UUID in unpadded base64url: 22 characters instead of 36, which keeps a lead
//! item under 1 KB.)
//! | email claim | `E#<email>` | `E` | the write path |
//! | counter bucket | `C#<bucket>` | `C` | the stream consumer |
//! | value registry | `R#<scope>` | `R` | the stream consumer |
//! | stream checkpoint | `K#<stream shard id>` | `K` | the stream consumer |
//! | postback log entry | `P#<status>#<day>#<shard>` | `<time>#<id>` | the postback path (refusals, quarantine) |
//! | client rate | `I#<client>#<minute>` | `I` | the postback path (repeating browser-key clients) |
//! | idempotency key | `D#<tier>#<key>` | `D` | the postback path (postbacks with `event_id` / `Idempotency-Key`) |
//! | webhook | `W` | `W#<id>` | the admin API; the delivery worker when the endpoint's health changes |
//! | webhook delivery | `WD#<id>` | `WD` | the fan-out (enqueue) and the delivery worker (each attempt) |
//! | spend row | `S#<day>` | `<source>\|<campaign>\|<domain>` | the admin API (spend imports) |
//! | exchange rate | `X#<currency>` | `<day>` | the admin API (Settings, rate imports) |
//! | rate registry | `X` | `X` | the admin API: the currencies that have rates |
//!
//! Every partition key value names one lead, one email, one counter bucket, one scope or one stream shard, so no
//! key is shared by the write traffic of many leads. The listing index is write-sharded by [`listing_shard`].
//! The one shared partition, `W`, holds at most `MAX_WEBHOOKS` (25) webhook items, read whole and written only by
//! admin requests and endpoint health changes. A delivery is listed under its webhook in `by_created` (partition
//! [`delivery_list_shard`], 16 per webhook, sort key [`delivery_list_key`]) and, while pending, in the sparse `due`
//! index (partition [`due_shard`], 32 in all, sort key [`due_sort_key`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use leadpipe_core::domain::lead::key_time;
use leadpipe_core::domain::Email;
use uuid::Uuid;

/// The table design's version. Version 1 (`LEAD#<uuid>` keys, counters in the write transaction) was never
/// deployed; version 2 is this one. A lead item's data attribute starts with a format byte, so a later design can
/// migrate item by item.
pub const DESIGN_VERSION: u32 = 2;
/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// Sort key of a lead item.
pub const LEAD_SK: &str = "L";
/// Sort key of an email claim.
pub const CLAIM_SK: &str = "E";
/// Sort-key prefix of stage-change items.
pub const HISTORY_PREFIX: &str = "H#";
/// Sort key of counter, registry and checkpoint items.
pub const SINGLE_SK: [&str; 3] = ["C", "R", "K"];
/// Listing index shards: new leads spread over this many `by_created` partitions.
pub const LISTING_SHARDS: u8 = 16;

/// A primary key: `pk` and `sk`.
pub type Key = HashMap<String, AttributeValue>;

/// `L#<id>`: the partition of a lead and its stage changes.
pub fn lead_pk(id: Uuid) -> String {
    format!("L#{}", URL_SAFE_NO_PAD.encode(id.as_bytes()))
}

/// The lead id of a `L#<id>` partition key.
pub fn lead_id_of(pk: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(pk.strip_prefix("L#")?).ok()?;
    Uuid::from_slice(&bytes).ok()
}

/// `E#<email>`: the partition of an email claim.
pub fn claim_pk(email: &Email) -> String {
    format!("E#{email}")
}

/// The sort key of the stage change that took a lead to `version`.
pub fn history_sk(version: u64) -> String {
    format!("{HISTORY_PREFIX}{version:020}")
}

/// The version of a stage-change sort key.
pub fn history_version(sk: &str) -> Option<u64> {
    sk.strip_prefix(HISTORY_PREFIX).and_then(|v| v.parse().ok())
}

/// `C#<bucket>`: one counter bucket (see `leadpipe_core::domain::counters`).
pub fn counter_key(bucket: &str) -> Key {
    key(format!("C#{bucket}"), "C")
}

/// The bucket of a `C#<bucket>` partition key.
pub fn bucket_of(pk: &str) -> Option<&str> {
    pk.strip_prefix("C#")
}

/// `R#<scope>`: the admitted values of one counter scope.
pub fn registry_key(scope: &str) -> Key {
    key(format!("R#{scope}"), "R")
}

/// `K#<shard id>`: how far the stream consumer got in one stream shard.
pub fn checkpoint_key(shard_id: &str) -> Key {
    key(format!("K#{shard_id}"), "K")
}

/// Shards of each day's postback log (a flood of refused postbacks spreads over them).
pub const LOG_SHARDS: u8 = 8;

/// The partition of one shard of a day's postback log of one status.
pub fn log_pk(status: &str, day: chrono::NaiveDate, shard: u8) -> String {
    format!("P#{status}#{}#{shard}", day.format("%Y-%m-%d"))
}

/// The key of a client's new-lead count in one minute (minutes since the Unix epoch).
pub fn rate_key(client: &str, minute: i64) -> Key {
    key(format!("I#{client}#{minute}"), "I")
}

/// `D#<tier>#<key>`: one idempotency key of one caller tier (a client's event id: as many partitions as events).
pub fn idempotency_key(scoped: &str) -> Key {
    key(format!("D#{scoped}"), "D")
}

/// `S#<day>`: the partition of one day's ad spend.
pub fn spend_pk(day: chrono::NaiveDate) -> String {
    format!("S#{}", day.format("%Y-%m-%d"))
}

/// The day of a `S#<day>` partition key.
pub fn spend_day(pk: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(pk.strip_prefix("S#")?, "%Y-%m-%d").ok()
}

/// The key of a spend row: its day's partition, and `<source>|<campaign>|<domain>`.
pub fn spend_key(day: chrono::NaiveDate, rest: &str) -> Key {
    key(spend_pk(day), rest)
}

/// `X#<currency>`: the partition of one currency's exchange rates.
pub fn rates_pk(currency: &str) -> String {
    format!("X#{currency}")
}

/// The key of one exchange rate (`day` as `YYYY-MM-DD`).
pub fn exchange_rate_key(currency: &str, day: &str) -> Key {
    key(rates_pk(currency), day)
}

/// The key of the rate registry (which currencies have rates).
pub fn rates_registry_key() -> Key {
    key("X", "X")
}

/// The listing shard of a lead: `00`–`15`, from its (random) id.
pub fn listing_shard(id: Uuid) -> String {
    format!("{:02}", id.as_bytes()[0] % LISTING_SHARDS)
}

/// Every listing shard.
pub fn listing_shards() -> impl Iterator<Item = String> {
    (0..LISTING_SHARDS).map(|s| format!("{s:02}"))
}

/// The partition of every webhook item.
pub const WEBHOOKS_PK: &str = "W";
/// Sort key of a delivery item.
pub const DELIVERY_SK: &str = "WD";
/// Listing shards of one webhook's deliveries in `by_created`.
pub const DELIVERY_LIST_SHARDS: u8 = 16;
/// Shards of the `due` index.
pub const DUE_SHARDS: u8 = 32;

/// The key of a webhook item.
pub fn webhook_key(id: Uuid) -> Key {
    key(WEBHOOKS_PK, format!("W#{id}"))
}

/// The key of a delivery item.
pub fn delivery_key(id: Uuid) -> Key {
    key(format!("WD#{id}"), DELIVERY_SK)
}

/// The delivery id of a `WD#<id>` partition key.
pub fn delivery_id_of(pk: &str) -> Option<Uuid> {
    pk.strip_prefix("WD#")?.parse().ok()
}

/// The `by_created` partition a delivery of `webhook` is listed in: `WL#<webhook>#<0–15>`, from the delivery's
/// (hash-derived) id. Lead listing shards are `00`–`15`, so the two never meet.
pub fn delivery_list_shard(webhook: Uuid, delivery: Uuid) -> String {
    format!(
        "WL#{webhook}#{}",
        delivery.as_bytes()[0] % DELIVERY_LIST_SHARDS
    )
}

/// Every `by_created` partition of `webhook`'s deliveries.
pub fn delivery_list_shards(webhook: Uuid) -> impl Iterator<Item = String> {
    (0..DELIVERY_LIST_SHARDS).map(move |s| format!("WL#{webhook}#{s}"))
}

/// A delivery's `by_created` sort key, which is also the listing cursor: `<creation time>#<id>` (newest first =
/// descending).
pub fn delivery_list_key(created_at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}#{id}", key_time(created_at))
}

/// Whether `cursor` has the shape of a [`delivery_list_key`] (cursors come from clients).
pub fn is_delivery_list_key(cursor: &str) -> bool {
    cursor.split_once('#').is_some_and(|(time, id)| {
        DateTime::parse_from_rfc3339(time).is_ok() && id.parse::<Uuid>().is_ok()
    })
}

/// The `due` partition of a pending delivery: `WQ#<00–31>`, from its id.
pub fn due_shard(delivery: Uuid) -> String {
    format!("WQ#{:02}", delivery.as_bytes()[1] % DUE_SHARDS)
}

/// Every `due` partition.
pub fn due_shards() -> impl Iterator<Item = String> {
    (0..DUE_SHARDS).map(|s| format!("WQ#{s:02}"))
}

/// A pending delivery's `due` sort key: `<next attempt time>#<delivery id>#<webhook id>` (earliest first).
pub fn due_sort_key(next_attempt_at: DateTime<Utc>, delivery: Uuid, webhook: Uuid) -> String {
    format!("{}#{delivery}#{webhook}", key_time(next_attempt_at))
}

/// The upper bound of `due` sort keys due at `now`.
pub fn due_until(now: DateTime<Utc>) -> String {
    format!("{}#~", key_time(now))
}

/// The delivery and webhook ids of a `due` sort key.
pub fn due_ids(sort_key: &str) -> Option<(Uuid, Uuid)> {
    let mut parts = sort_key.splitn(3, '#').skip(1);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The key of a lead item.
pub fn lead_key(id: Uuid) -> Key {
    key(lead_pk(id), LEAD_SK)
}

/// The key of an email claim.
pub fn claim_key(email: &Email) -> Key {
    key(claim_pk(email), CLAIM_SK)
}

/// A key from its two parts.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Key {
    HashMap::from([
        (PK.into(), AttributeValue::S(pk.into())),
        (SK.into(), AttributeValue::S(sk.into())),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort() {
        let id = Uuid::new_v4();
        assert_eq!(lead_id_of(&lead_pk(id)), Some(id));
        assert!(history_sk(9) < history_sk(10));
        assert_eq!(history_version(&history_sk(42)), Some(42));
        assert_eq!(listing_shards().count(), 16);
        assert!(listing_shards().any(|s| s == listing_shard(id)));
    }

    #[test]
    fn delivery_keys_round_trip_and_sort() {
        let (webhook, delivery) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            delivery_id_of(
                &delivery_key(delivery)[PK]
                    .as_s()
                    .cloned()
                    .unwrap_or_default()
            ),
            Some(delivery)
        );
        assert!(delivery_list_shards(webhook).any(|s| s == delivery_list_shard(webhook, delivery)));
        assert!(!listing_shards().any(|s| s == delivery_list_shard(webhook, delivery)));
        assert!(due_shards().any(|s| s == due_shard(delivery)));
        let t0: DateTime<Utc> = "2026-03-01T12:00:00Z".parse().unwrap_or_default();
        let later = t0 + chrono::TimeDelta::microseconds(1);
        let key = due_sort_key(t0, delivery, webhook);
        assert_eq!(due_ids(&key), Some((delivery, webhook)));
        assert!(key <= due_until(t0) && due_until(t0) < due_sort_key(later, delivery, webhook));
        assert!(delivery_list_key(t0, delivery) < delivery_list_key(later, Uuid::nil()));
        assert!(is_delivery_list_key(&delivery_list_key(t0, delivery)));
        assert!(!is_delivery_list_key("2026-03-01T12:00:00Z") && !is_delivery_list_key("x#y"));
    }
}
