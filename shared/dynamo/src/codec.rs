//! Lead, history and counter items ⇄ domain values.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use leadpipe_core::domain::counters::Counters;
use leadpipe_core::domain::{Lead, StageChange};
use leadpipe_core::store::{FilterColumns, StoreError};

use crate::error::internal;
use crate::keys::{self, LIST_PK_VALUE, PK, SK};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Attributes that exist only for keys and filters; stripped when decoding a lead.
const INDEX_ATTRIBUTES: &[&str] = &[PK, SK, "list_pk", "stage_key", "created_key", "source_lc", "campaign_lc", "search_text"];

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Encodes a lead as its item: fields via serde_dynamo (nulls dropped), custom data as a JSON string (so any JSON,
/// numbers and empty keys included, round-trips), plus the key and filter attributes.
pub fn lead_item(lead: &Lead) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(lead).map_err(internal)?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    item.insert("custom_data".into(), s(serde_json::to_string(&lead.custom_data).map_err(internal)?));
    let filters = FilterColumns::of(lead);
    item.extend(keys::lead_key(lead.id));
    item.insert("list_pk".into(), s(LIST_PK_VALUE));
    item.insert("stage_key".into(), s(lead.stage.as_str()));
    item.insert("created_key".into(), s(lead.created_key()));
    item.insert("search_text".into(), s(filters.search_text));
    if let Some(v) = filters.source_lc {
        item.insert("source_lc".into(), s(v));
    }
    if let Some(v) = filters.campaign_lc {
        item.insert("campaign_lc".into(), s(v));
    }
    Ok(item)
}

/// Decodes a lead item.
pub fn lead_from_item(mut item: Item) -> Result<Lead, StoreError> {
    let custom = match item.remove("custom_data") {
        Some(AttributeValue::S(json)) => serde_json::from_str(&json).map_err(|e| internal(format!("custom_data does not decode: {e}")))?,
        _ => serde_json::Map::new(),
    };
    for a in INDEX_ATTRIBUTES {
        item.remove(*a);
    }
    let mut lead: Lead = serde_dynamo::from_item(item).map_err(|e| internal(format!("lead item does not decode: {e}")))?;
    lead.custom_data = custom;
    Ok(lead)
}

/// Encodes a history entry of the lead `id` reaching `version`.
pub(crate) fn history_item(id: uuid::Uuid, version: u64, change: &StageChange) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(change).map_err(internal)?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    item.extend(keys::key(keys::lead_pk(id), keys::history_sk(version)));
    Ok(item)
}

/// Decodes a history item.
pub(crate) fn history_from_item(mut item: Item) -> Result<StageChange, StoreError> {
    item.remove(PK);
    item.remove(SK);
    serde_dynamo::from_item(item).map_err(|e| internal(format!("history item does not decode: {e}")))
}

/// Sums counter items (`<key>#<shard>` sort keys) into counters; a malformed count is an error, not a zero.
pub(crate) fn counters_from_items(items: impl IntoIterator<Item = Item>) -> Result<Counters, StoreError> {
    let mut counters = Counters::default();
    for item in items {
        let Some(AttributeValue::S(sk)) = item.get(SK) else { continue };
        let Some((key, _shard)) = sk.rsplit_once('#') else { continue };
        let num = |name: &str| match item.get(name) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().map_err(|_| internal(format!("counter {sk} holds a non-integer {name}"))),
            _ => Ok(0),
        };
        counters.add(key, num("n")?, num("ms")?);
    }
    Ok(counters)
}
