//! Items ⇄ domain values.
//!
//! A lead item keeps the whole lead in one compressed binary attribute (`d`: deflate of its JSON), so the item
//! stays under 1 KB (one write unit) even for a landing page's full user agent, referrer and UTM fields. Next to
//! it sit only the attributes keys and listing filters need. Every other item is small and plain.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use leadpipe_core::domain::counters::{Counters, Fields, Tally};
use leadpipe_core::domain::{Lead, StageChange};
use leadpipe_core::store::{FilterColumns, StoreError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::internal;
use crate::keys;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Attribute names of lead and claim items.
pub mod attr {
    /// Version (optimistic concurrency).
    pub const VERSION: &str = "v";
    /// The compressed lead record.
    pub const DATA: &str = "d";
    /// Email (`by_email` key).
    pub const EMAIL: &str = "em";
    /// Listing shard (`by_created` partition key).
    pub const LISTING_SHARD: &str = "ls";
    /// Creation key (`by_created` sort key).
    pub const CREATED_KEY: &str = "ck";
    /// Revenue key (`by_revenue` sort key): present only on leads with counted orders.
    pub const REVENUE_KEY: &str = "rk";
    /// Current stage.
    pub const STAGE: &str = "st";
    /// When the current stage was entered (milliseconds since the Unix epoch).
    pub const STAGE_ENTERED: &str = "se";
    /// Latest source, lower-cased.
    pub const SOURCE: &str = "src";
    /// Latest campaign, lower-cased.
    pub const CAMPAIGN: &str = "cmp";
    /// Search text: names, phone and company, lower-cased (the email is searched in `em`).
    pub const SEARCH: &str = "q";
    /// Present (1) on quarantined leads.
    pub const QUARANTINED: &str = "qr";
    /// The lead id an email claim points to.
    pub const CLAIM_ID: &str = "id";
    /// A pending delivery's `due` partition (present only while it is pending).
    pub const DUE_SHARD: &str = "du";
    /// A pending delivery's `due` sort key (present only while it is pending).
    pub const DUE_KEY: &str = "dt";
    /// What `by_created` projects besides its keys: exactly what listing filters read.
    pub const LISTED: [&str; 7] = [
        STAGE,
        STAGE_ENTERED,
        SOURCE,
        CAMPAIGN,
        SEARCH,
        EMAIL,
        QUARANTINED,
    ];
}

/// Longest search text copied into the listing index, in characters.
const MAX_LISTED_SEARCH: usize = 300;

/// What a lead item holds: the lead, its creation entry, and its latest stage change (the stream consumer turns
/// each change into a stage-change item; until it has, reads take the latest one from here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadRecord {
    /// The lead.
    pub lead: Lead,
    /// The history entry of its creation (not stored as an item of its own).
    pub created: StageChange,
    /// The latest stage change after creation, with the version it produced.
    #[serde(default, rename = "change")]
    pub last_change: Option<VersionedChange>,
}

/// A stage change and the lead version the write that made it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionedChange {
    /// The lead's version after the change.
    #[serde(rename = "v")]
    pub version: u64,
    /// The change.
    #[serde(flatten)]
    pub change: StageChange,
}

impl LeadRecord {
    /// The stage change the write that produced this version made, if it made one.
    pub fn change_of_this_version(&self) -> Option<&StageChange> {
        self.last_change
            .as_ref()
            .filter(|c| c.version == self.lead.version)
            .map(|c| &c.change)
    }
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The format byte of lead data written before orders: raw deflate of the record's JSON with [`DICTIONARY_1`].
const FORMAT_DEFLATE_DICTIONARY_1: u8 = 1;
/// The format byte of lead data written now: raw deflate with [`DICTIONARY_2`] (the first dictionary followed by
/// a lead's orders, so a paying lead's item stays under one write unit).
const FORMAT_DEFLATE_DICTIONARY_2: u8 = 2;
/// Largest inflated lead record accepted.
const MAX_RECORD_BYTES: usize = 1 << 20;
/// The first preset dictionary: the record's field names and the text landing pages send most (user agents,
/// search referrers, UTM parameters), so a lead's data compresses to its own information. Part of the stored
/// format: never change it; add a new one under a new format byte.
const DICTIONARY_1: &[u8] = include_bytes!("lead_dictionary_1.txt");
/// The second preset dictionary: [`DICTIONARY_1`] followed by orders. Part of the stored format too.
const DICTIONARY_2: &[u8] = include_bytes!("lead_dictionary_2.txt");

/// Raw deflate of `json` with the preset dictionary, behind the format byte (lead data, webhook payloads).
pub(crate) fn compress(json: &[u8]) -> Result<Vec<u8>, StoreError> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    let mut c = Compress::new(Compression::best(), false);
    c.set_dictionary(DICTIONARY_2).map_err(internal)?;
    let mut out = Vec::with_capacity(json.len() + 64);
    out.push(FORMAT_DEFLATE_DICTIONARY_2);
    loop {
        let consumed = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
        out.reserve(256);
        match c
            .compress_vec(
                &json[consumed.min(json.len())..],
                &mut out,
                FlushCompress::Finish,
            )
            .map_err(internal)?
        {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError => {}
        }
    }
}

/// The bytes [`compress`] compressed (public for tools and tests that read the table's items directly).
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    use flate2::{Decompress, FlushDecompress, Status};
    let (dictionary, rest) = match data.split_first() {
        Some((&FORMAT_DEFLATE_DICTIONARY_2, rest)) => (DICTIONARY_2, rest),
        Some((&FORMAT_DEFLATE_DICTIONARY_1, rest)) => (DICTIONARY_1, rest),
        _ => return Err(internal("lead data has an unknown format")),
    };
    let mut d = Decompress::new(false);
    d.set_dictionary(dictionary).map_err(internal)?;
    let mut out = Vec::with_capacity(rest.len() * 4);
    loop {
        let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        if out.len() >= MAX_RECORD_BYTES {
            return Err(internal("lead data inflates past 1 MiB"));
        }
        out.reserve(1024);
        match d
            .decompress_vec(
                &rest[consumed.min(rest.len())..],
                &mut out,
                FlushDecompress::Finish,
            )
            .map_err(internal)?
        {
            Status::StreamEnd => return Ok(out),
            Status::Ok => {}
            Status::BufError if consumed >= rest.len() && out.len() < out.capacity() => {
                return Err(internal("lead data is truncated"))
            }
            Status::BufError => {}
        }
    }
}

/// Encodes a lead record as its item.
pub fn lead_item(record: &LeadRecord) -> Result<Item, StoreError> {
    let lead = &record.lead;
    let mut value = serde_json::to_value(record).map_err(internal)?;
    strip_nulls(&mut value);
    // The id and version are the item's key and `v`: not stored twice.
    if let Some(lead) = value.get_mut("lead").and_then(|l| l.as_object_mut()) {
        lead.remove("id");
        lead.remove("version");
    }
    let json = serde_json::to_vec(&value).map_err(internal)?;
    let filters = FilterColumns::of(lead);
    let mut item = keys::lead_key(lead.id);
    item.insert(attr::VERSION.into(), n(lead.version));
    item.insert(
        attr::DATA.into(),
        AttributeValue::B(Blob::new(compress(&json)?)),
    );
    item.insert(attr::LISTING_SHARD.into(), s(keys::listing_shard(lead.id)));
    item.insert(attr::CREATED_KEY.into(), s(lead.created_key()));
    item.insert(attr::STAGE.into(), s(lead.stage.as_str()));
    item.insert(
        attr::STAGE_ENTERED.into(),
        n(lead.stage_entered_at.timestamp_millis()),
    );
    item.insert(attr::SEARCH.into(), s(search_text(lead)));
    if let Some(email) = &lead.email {
        item.insert(attr::EMAIL.into(), s(email.as_str()));
    }
    if let Some(v) = filters.source_lc {
        item.insert(attr::SOURCE.into(), s(v));
    }
    if let Some(v) = filters.campaign_lc {
        item.insert(attr::CAMPAIGN.into(), s(v));
    }
    if lead.quarantine.is_some() {
        item.insert(attr::QUARANTINED.into(), n(1));
    }
    if let Some(key) = lead.revenue_key() {
        item.insert(attr::REVENUE_KEY.into(), s(key));
    }
    Ok(item)
}

/// What the listing index's `q` holds: names, phone and company, lower-cased, one per line.
fn search_text(lead: &Lead) -> String {
    let t = &lead.text;
    let parts = [
        t.first_name.as_deref(),
        t.last_name.as_deref(),
        t.phone.as_deref(),
        t.company.as_deref(),
    ];
    let mut out: String = parts
        .into_iter()
        .flatten()
        .map(|p| p.to_lowercase() + "\n")
        .collect();
    if let (Some(f), Some(l)) = (&t.first_name, &t.last_name) {
        out.push_str(&format!("{} {}", f.to_lowercase(), l.to_lowercase()));
    }
    out.chars().take(MAX_LISTED_SEARCH).collect()
}

/// Drops `null` members (absent fields decode as `None` again), except inside `custom_data`, which is kept as sent.
fn strip_nulls(v: &mut serde_json::Value) {
    if let serde_json::Value::Object(map) = v {
        map.retain(|_, x| !x.is_null());
        for (k, x) in map.iter_mut() {
            if k != "custom_data" {
                strip_nulls(x);
            }
        }
    }
}

/// Decodes a lead item into its record.
pub fn lead_record_from_item(item: &Item) -> Result<LeadRecord, StoreError> {
    let Some(AttributeValue::B(data)) = item.get(attr::DATA) else {
        return Err(internal("lead item without data"));
    };
    let mut value: serde_json::Value = serde_json::from_slice(&decompress(data.as_ref())?)
        .map_err(|e| internal(format!("lead data does not decode: {e}")))?;
    let id = item
        .get(keys::PK)
        .and_then(|v| v.as_s().ok())
        .and_then(|pk| keys::lead_id_of(pk))
        .ok_or_else(|| internal("lead item without id"))?;
    let version = match item.get(attr::VERSION) {
        Some(AttributeValue::N(v)) => v.parse::<u64>().map_err(internal)?,
        _ => return Err(internal("lead item without version")),
    };
    if let Some(lead) = value.get_mut("lead").and_then(|l| l.as_object_mut()) {
        lead.insert("id".into(), id.to_string().into());
        lead.insert("version".into(), version.into());
    }
    serde_json::from_value(value).map_err(|e| internal(format!("lead data does not decode: {e}")))
}

/// Decodes a lead item.
pub fn lead_from_item(item: &Item) -> Result<Lead, StoreError> {
    lead_record_from_item(item).map(|r| r.lead)
}

/// Whether an item is a lead item.
pub fn is_lead_item(item: &Item) -> bool {
    matches!(item.get(keys::SK), Some(AttributeValue::S(sk)) if sk == keys::LEAD_SK)
}

/// The stage-change item for the change that took lead `id` to `version`.
pub fn history_item(id: Uuid, version: u64, change: &StageChange) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(change).map_err(internal)?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    item.extend(keys::key(keys::lead_pk(id), keys::history_sk(version)));
    Ok(item)
}

/// Decodes a stage-change item.
pub fn history_from_item(mut item: Item) -> Result<StageChange, StoreError> {
    item.remove(keys::PK);
    item.remove(keys::SK);
    serde_dynamo::from_item(item)
        .map_err(|e| internal(format!("history item does not decode: {e}")))
}

/// An email claim pointing at lead `id`.
pub fn claim_item(email: &leadpipe_core::domain::Email, id: Uuid) -> Item {
    let mut item = keys::claim_key(email);
    item.insert(attr::CLAIM_ID.into(), s(id.to_string()));
    item
}

/// The lead id an email claim points at.
pub fn claim_target(item: &Item) -> Result<Uuid, StoreError> {
    match item.get(attr::CLAIM_ID) {
        Some(AttributeValue::S(id)) => Uuid::parse_str(id).map_err(internal),
        _ => Err(internal("email claim without id")),
    }
}

/// The attribute holding a counter field's count.
pub fn count_attribute(field: &str) -> String {
    format!("n:{field}")
}

/// The attribute holding a counter field's summed milliseconds.
pub fn ms_attribute(field: &str) -> String {
    format!("m:{field}")
}

/// Decodes a counter item's fields; a malformed number is an error, not a zero.
pub fn fields_from_item(item: &Item) -> Result<Fields, StoreError> {
    let mut fields = Fields::new();
    for (name, value) in item {
        let (field, is_ms) = match (name.strip_prefix("n:"), name.strip_prefix("m:")) {
            (Some(f), _) => (f, false),
            (_, Some(f)) => (f, true),
            _ => continue,
        };
        let AttributeValue::N(raw) = value else {
            return Err(internal(format!(
                "counter attribute {name} is not a number"
            )));
        };
        let v: i64 = raw
            .parse()
            .map_err(|_| internal(format!("counter attribute {name} holds a non-integer")))?;
        let t: &mut Tally = fields.entry(field.to_string()).or_default();
        if is_ms {
            t.ms += v;
        } else {
            t.n += v;
        }
    }
    Ok(fields)
}

/// Adds a counter item into `counters` under `bucket`.
pub fn add_counter_item(
    counters: &mut Counters,
    bucket: &str,
    item: &Item,
) -> Result<(), StoreError> {
    for (field, t) in fields_from_item(item)? {
        counters.add(bucket, &field, t.n, t.ms);
    }
    Ok(())
}

/// A landing page's full postback: long user agent and referrer, every UTM field, a few custom_data keys
/// (about 1.6 KB of JSON, the body the scale target is stated for).
pub fn realistic_body() -> serde_json::Value {
    serde_json::json!({
        "email": "maria.gonzalez.hernandez@example-mail.com",
        "first_name": "María José", "last_name": "González Hernández", "phone": "+1 (415) 555-0142",
        "company": "González Landscaping & Design LLC", "stage": "Form Started",
        "source": "google", "domain": "www.myeinregistry.com", "campaign": "llc-formation-spring-2026",
        "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "llc-formation-spring-2026",
        "utm_term": "form an llc in california online", "utm_content": "rsa-variant-b-headline-3",
        "referrer": "https://www.google.com/search?q=form+an+llc+in+california+online&rlz=1C5CHFA_enUS1012US1012&oq=form+an+llc+in+california&gs_lcrp=EgZjaHJvbWUqBwgBEAAYgAQyBggAEEUYOTIHCAEQABiABDIHCAIQABiABNIBCDQ2MTlqMGo3qAIAsAIA&sourceid=chrome&ie=UTF-8",
        "ip_address": "2600:1700:3c61:9a40:8d2f:6b1e:44c1:7e0a",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.207 Safari/537.36",
        "browser": "Chrome 124", "device_type": "desktop",
        "form_completion_percent": 25, "form_fields_completed": 3, "form_fields_total": 12,
        "custom_data": {
            "gclid": "Cj0KCQjw8J6wBhDXARIsAPo7QA9kR2fX5yLq0pT7sVbN3mW1eH8cJ4dK6gZ0uYtRiOqAsDfGhJk_BwE",
            "page_url": "https://www.myeinregistry.com/start/llc?utm_source=google&utm_medium=cpc&utm_campaign=llc-formation-spring-2026&utm_term=form+an+llc+in+california+online&utm_content=rsa-variant-b-headline-3",
            "fbp": "fb.1.1732771724123.1098765432",
            "session_id": "s_8f3a2c91-4b7e-4d2a-9c61-0e5f7a8b3d24", "form_id": "llc-start-v2", "landing_variant": "hero-video",
            "entity_type": "LLC", "state": "CA", "ab_test": "checkout-v3", "consent": true
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadpipe_core::domain::merge::new_lead;
    use leadpipe_core::domain::{Pipeline, Postback};

    #[test]
    fn a_realistic_lead_item_stays_under_one_kilobyte() {
        let body = super::realistic_body();
        let json = body.to_string();
        assert!(
            (1500..1700).contains(&json.len()),
            "the realistic body is about 1.6 KB ({} B)",
            json.len()
        );
        let p = Pipeline::default();
        let pb = Postback::parse(json.as_bytes(), &p, None).unwrap().postback;
        let applied = new_lead(
            &pb,
            &p,
            Uuid::new_v4(),
            leadpipe_core::service::now(),
            &leadpipe_core::domain::merge::Access::Full,
        );
        let change = applied
            .history
            .clone()
            .map(|change| VersionedChange { version: 1, change });
        let record = LeadRecord {
            created: applied.history.clone().unwrap(),
            last_change: change,
            lead: applied.lead,
        };
        let item = lead_item(&record).unwrap();
        let size = crate::size::item_size(&item);
        let parts: Vec<String> = item
            .iter()
            .map(|(k, v)| format!("{k}={}", k.len() + crate::size::value_size(v)))
            .collect();
        eprintln!(
            "realistic lead item: {size} B (body {} B): {parts:?}",
            json.len()
        );
        assert!(
            size < 1024,
            "lead item is {size} B (body {} B): {parts:?}",
            json.len()
        );
        assert_eq!(lead_record_from_item(&item).unwrap(), record, "round-trips");
    }

    /// A paying lead: the realistic body with an order (`value`, `currency`, `order_id`). Its item size is what
    /// the heat model and the cost per million postbacks with orders use (docs/DYNAMODB.md).
    #[test]
    fn a_realistic_lead_with_an_order_stays_under_one_kilobyte() {
        let mut body = super::realistic_body();
        body["value"] = serde_json::json!(149.99);
        body["currency"] = serde_json::json!("USD");
        body["order_id"] = serde_json::json!("ORD-2026-118842");
        body["stage"] = serde_json::json!("Paid");
        let p = Pipeline::default();
        let pb = Postback::parse(body.to_string().as_bytes(), &p, None)
            .unwrap()
            .postback;
        let applied = new_lead(
            &pb,
            &p,
            Uuid::new_v4(),
            leadpipe_core::service::now(),
            &leadpipe_core::domain::merge::Access::Full,
        );
        assert_eq!(applied.lead.orders.len(), 1);
        let record = LeadRecord {
            created: applied.history.clone().unwrap(),
            last_change: applied
                .history
                .clone()
                .map(|change| VersionedChange { version: 1, change }),
            lead: applied.lead,
        };
        let item = lead_item(&record).unwrap();
        let size = crate::size::item_size(&item);
        eprintln!("realistic lead item with an order: {size} B");
        assert!(
            size < 1024,
            "a paying lead item is {size} B: 2 write units instead of 1"
        );
        assert_eq!(lead_record_from_item(&item).unwrap(), record, "round-trips");
    }

    /// Items written before orders (format 1, the first dictionary) still read.
    #[test]
    fn format_one_data_still_reads() {
        use flate2::{Compress, Compression, FlushCompress};
        let json = br#"{"a":"lead written before orders"}"#;
        let mut c = Compress::new(Compression::best(), false);
        c.set_dictionary(super::DICTIONARY_1).unwrap();
        let mut out = vec![super::FORMAT_DEFLATE_DICTIONARY_1];
        out.reserve(256);
        c.compress_vec(json, &mut out, FlushCompress::Finish)
            .unwrap();
        assert_eq!(super::decompress(&out).unwrap(), json);
        assert_eq!(
            super::compress(json).unwrap()[0],
            super::FORMAT_DEFLATE_DICTIONARY_2
        );
    }
}
