//! Listings on DynamoDB: the `by_created` index is write-sharded over [`LISTING_SHARDS`] partitions (so new leads
//! never pile onto one key), and a page is a k-way merge of the shards read in order, without a Scan.
//!
//! Each shard is queried in the listing's order with the date range as a key condition and the other filters
//! (stage, latest source and campaign, search text, quarantine, stage idle time) as a filter expression on the
//! projected attributes. An entry is emitted only when no shard that still has unread entries could hold a
//! later one, so the merged order is exact. Revenue listings read `by_revenue` the same way (keyed by
//! [`leadpipe_core::domain::Lead::revenue_key`], so only leads with orders are in it), with the date range as a
//! filter on the projected creation key. Filtered listings stop after [`LIST_READ_BUDGET`] evaluated entries
//! and return a cursor (`Leadpipe::list_leads` continues such a page a few times); the page's leads are then read
//! with BatchGetItem. Counts ([`count`]) read the same entries with `Select: COUNT` and never read a lead.

use std::collections::VecDeque;

use leadpipe_core::domain::lead::key_time;
use leadpipe_core::store::{
    LeadPage, ListQuery, PostbackLogEntry, PostbackLogPage, PostbackLogQuery, QuarantineFilter,
    StoreError,
};

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use leadpipe_core::totals::{Total, COUNT_BUDGET, COUNT_PAGES, COUNT_PAGE_SIZE};

use crate::codec::{attr, lead_from_item, n, s, Item};
use crate::error::sdk_error;
use crate::keys::{self, LISTING_SHARDS, PK};
use crate::schema::index;
use crate::store::DynamoStore;

/// Most index entries a listing evaluates per request (beyond the rows it skips and returns) before it answers
/// with what it found and a cursor.
pub const LIST_READ_BUDGET: usize = 2000;

/// Most index entries a count evaluates before it answers with a lower bound: as many as paging through the
/// listing for [`COUNT_PAGES`] pages could.
pub const COUNT_READ_BUDGET: usize = COUNT_PAGES * (LIST_READ_BUDGET + COUNT_PAGE_SIZE);

/// Index entries a count evaluates per shard and round.
const COUNT_CHUNK: usize = 250;

struct Shard {
    name: String,
    buffer: VecDeque<Item>,
    start: Option<Item>,
    /// Sort key of the last entry the shard's queries evaluated: every unread entry comes after it.
    frontier: Option<String>,
    done: bool,
}

impl Shard {
    fn needs_reading(&self) -> bool {
        !self.done && self.buffer.is_empty()
    }
}

/// The index a listing in `q`'s order reads, and the sort key attribute its entries are merged by.
fn index_of(q: &ListQuery) -> (&'static str, &'static str) {
    if q.order.by_revenue() {
        (index::BY_REVENUE, attr::REVENUE_KEY)
    } else {
        (index::BY_CREATED, attr::CREATED_KEY)
    }
}

/// An index entry's sort key in `q`'s listing.
fn sort_key(q: &ListQuery, entry: &Item) -> String {
    entry
        .get(index_of(q).1)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// The key condition's bounds (inclusive) on the index's sort key: the date range (on `by_created` only) and
/// the cursor.
fn bounds(q: &ListQuery) -> (Option<String>, Option<String>) {
    let (lo, hi) = if q.order.by_revenue() {
        (None, None)
    } else {
        (q.created_from.map(key_time), q.created_before.map(key_time))
    };
    match &q.after {
        None => (lo, hi),
        Some(after) if q.order.ascending() => {
            (Some(lo.map_or(after.clone(), |l| l.max(after.clone()))), hi)
        }
        Some(after) => (lo, Some(hi.map_or(after.clone(), |h| h.min(after.clone())))),
    }
}

/// One clause of a listing's filter expression, with the attribute name and value it uses.
struct Filter {
    clause: &'static str,
    placeholder: &'static str,
    attribute: &'static str,
    value: Option<(&'static str, AttributeValue)>,
}

impl Filter {
    fn new(clause: &'static str, placeholder: &'static str, attribute: &'static str) -> Self {
        Self {
            clause,
            placeholder,
            attribute,
            value: None,
        }
    }

    fn value(mut self, placeholder: &'static str, value: AttributeValue) -> Self {
        self.value = Some((placeholder, value));
        self
    }
}

/// A page of `q` from the sharded index.
pub(crate) async fn list(store: &DynamoStore, q: &ListQuery) -> Result<LeadPage, StoreError> {
    let mut shards: Vec<Shard> = keys::listing_shards()
        .map(|name| Shard {
            name,
            buffer: VecDeque::new(),
            start: None,
            frontier: None,
            done: false,
        })
        .collect();
    let filtered = q.search.is_some()
        || q.source.is_some()
        || q.campaign.is_some()
        || q.stage.is_some()
        || q.entered_before.is_some()
        || (q.order.by_revenue() && (q.created_from.is_some() || q.created_before.is_some()));
    let budget = LIST_READ_BUDGET + q.skip + q.limit;
    let chunk = if filtered {
        200
    } else {
        (q.skip + q.limit).div_ceil(usize::from(LISTING_SHARDS)) + 2
    };
    let later = |a: &str, b: &str| if q.order.ascending() { a < b } else { a > b };
    let (mut evaluated, mut skipped) = (0usize, 0usize);
    let mut picked: Vec<String> = Vec::new();
    let mut last_key: Option<String> = None;
    loop {
        if picked.len() == q.limit + 1 {
            break;
        }
        // The least advanced frontier among shards with unread entries: nothing unread comes before it.
        let needy: Vec<usize> = (0..shards.len())
            .filter(|i| shards[*i].needs_reading())
            .collect();
        let best = (0..shards.len())
            .filter_map(|i| shards[i].buffer.front().map(|e| (i, sort_key(q, e))))
            .reduce(|a, b| if later(&b.1, &a.1) { b } else { a });
        let safe = |ck: &str| {
            needy
                .iter()
                .all(|i| shards[*i].frontier.as_deref().is_some_and(|f| later(ck, f)))
        };
        match best {
            Some((i, ck)) if safe(&ck) => {
                let entry = shards[i].buffer.pop_front().unwrap_or_default();
                if !q.is_past_cursor(&ck) {
                    continue;
                }
                if skipped < q.skip {
                    skipped += 1;
                } else if let Some(pk) = entry.get(PK).and_then(|v| v.as_s().ok()) {
                    picked.push(pk.clone());
                    last_key = Some(ck);
                }
            }
            _ if needy.is_empty() => break,
            _ => {
                if filtered && evaluated >= budget {
                    // Out of budget: continue from the least advanced shard next time.
                    let cursor = needy
                        .iter()
                        .filter_map(|i| shards[*i].frontier.clone())
                        .reduce(|a, b| if later(&a, &b) { a } else { b });
                    let leads = read_leads(store, &picked).await?;
                    return Ok(LeadPage {
                        leads,
                        next_after: cursor.or(last_key),
                    });
                }
                let reads = needy
                    .iter()
                    .map(|i| query_shard(store, q, &shards[*i], chunk));
                let results = futures_util::future::join_all(reads).await;
                for (i, result) in needy.iter().zip(results) {
                    let (items, next, scanned) = result?;
                    let shard = &mut shards[*i];
                    evaluated += scanned;
                    shard.buffer.extend(items);
                    shard.frontier = next
                        .as_ref()
                        .map(|k| sort_key(q, k))
                        .or(shard.frontier.take());
                    shard.done = next.is_none();
                    shard.start = next;
                }
            }
        }
    }
    let more = picked.len() > q.limit;
    picked.truncate(q.limit);
    if more {
        // `last_key` belongs to the extra row: the cursor is the key of the page's last row.
        last_key = None;
    }
    let leads = read_leads(store, &picked).await?;
    let next_after = if more {
        leads
            .last()
            .and_then(|lead| q.order.key_of(lead))
            .or(last_key)
    } else {
        None
    };
    Ok(LeadPage { leads, next_after })
}

async fn query_shard(
    store: &DynamoStore,
    q: &ListQuery,
    shard: &Shard,
    chunk: usize,
) -> Result<(Vec<Item>, Option<Item>, usize), StoreError> {
    let out = shard_query(store, q, &shard.name, shard.start.clone(), chunk)
        .send()
        .await
        .map_err(sdk_error)?;
    let next = out.last_evaluated_key.filter(|k| !k.is_empty());
    let scanned = usize::try_from(out.scanned_count).unwrap_or(0);
    Ok((out.items.unwrap_or_default(), next, scanned))
}

/// Counts the leads `q` lists from the index entries alone (`Select: COUNT`, so no lead is read): every shard is
/// queried in rounds of [`COUNT_CHUNK`] entries until all are read (exact), more than [`COUNT_BUDGET`] match, or
/// [`COUNT_READ_BUDGET`] entries were evaluated (a lower bound), the same answer as paging through the listing.
pub(crate) async fn count(store: &DynamoStore, q: &ListQuery) -> Result<Total, StoreError> {
    count_up_to(store, q, COUNT_BUDGET, COUNT_READ_BUDGET).await
}

/// Counts as [`count`] does, stopping once more than `found_budget` match or `read_budget` entries were
/// evaluated ("count all" passes [`leadpipe_core::totals::FULL_COUNT_READS`] for both).
pub(crate) async fn count_up_to(
    store: &DynamoStore,
    q: &ListQuery,
    found_budget: usize,
    read_budget: usize,
) -> Result<Total, StoreError> {
    let q = ListQuery {
        after: None,
        skip: 0,
        ..q.clone()
    };
    let mut pending: Vec<(String, Option<Item>)> =
        keys::listing_shards().map(|name| (name, None)).collect();
    let (mut found, mut evaluated) = (0usize, 0usize);
    let total = |found: usize, exact: bool| Total {
        count: i64::try_from(found.min(found_budget)).unwrap_or(i64::MAX),
        exact,
    };
    while !pending.is_empty() {
        if found > found_budget || evaluated >= read_budget {
            return Ok(total(found, false));
        }
        let reads = pending.iter().map(|(name, start)| {
            shard_query(store, &q, name, start.clone(), COUNT_CHUNK)
                .select(Select::Count)
                .send()
        });
        let results = futures_util::future::join_all(reads).await;
        let mut next_round = Vec::with_capacity(pending.len());
        for ((name, _), result) in pending.into_iter().zip(results) {
            let out = result.map_err(sdk_error)?;
            found += usize::try_from(out.count).unwrap_or(0);
            evaluated += usize::try_from(out.scanned_count).unwrap_or(0);
            if let Some(next) = out.last_evaluated_key.filter(|k| !k.is_empty()) {
                next_round.push((name, Some(next)));
            }
        }
        pending = next_round;
    }
    Ok(total(found, found <= found_budget))
}

/// The query of one listing shard for `q`: date range and cursor as the key condition, the other filters as a
/// filter expression on the projected attributes, `limit` entries evaluated from `start`.
fn shard_query(
    store: &DynamoStore,
    q: &ListQuery,
    shard: &str,
    start: Option<Item>,
    limit: usize,
) -> QueryFluentBuilder {
    let (lo, hi) = bounds(q);
    let (index, sort_attribute) = index_of(q);
    let condition = match (&lo, &hi) {
        (Some(_), Some(_)) => "#ls = :ls AND #sk BETWEEN :lo AND :hi",
        (Some(_), None) => "#ls = :ls AND #sk >= :lo",
        (None, Some(_)) => "#ls = :ls AND #sk <= :hi",
        (None, None) => "#ls = :ls",
    };
    let mut req = store
        .client
        .query()
        .table_name(&store.table)
        .index_name(index)
        .key_condition_expression(condition)
        .expression_attribute_names("#ls", attr::LISTING_SHARD)
        .expression_attribute_values(":ls", s(shard))
        .scan_index_forward(q.order.ascending())
        .limit(i32::try_from(limit).unwrap_or(200))
        .set_exclusive_start_key(start);
    if lo.is_some() || hi.is_some() {
        req = req.expression_attribute_names("#sk", sort_attribute);
    }
    if let Some(lo) = lo {
        req = req.expression_attribute_values(":lo", s(lo));
    }
    if let Some(hi) = hi {
        req = req.expression_attribute_values(":hi", s(hi));
    }
    let mut filters: Vec<Filter> = Vec::new();
    if q.order.by_revenue() {
        // `by_revenue` is keyed by revenue: the date range filters on the projected creation key.
        if let Some(from) = q.created_from {
            filters.push(
                Filter::new("#ck >= :cfrom", "#ck", attr::CREATED_KEY)
                    .value(":cfrom", s(key_time(from))),
            );
        }
        if let Some(before) = q.created_before {
            filters.push(
                Filter::new("#ck < :cbefore", "#ck", attr::CREATED_KEY)
                    .value(":cbefore", s(key_time(before))),
            );
        }
    }
    if let Some(stage) = &q.stage {
        filters.push(Filter::new("#st = :st", "#st", attr::STAGE).value(":st", s(stage.as_str())));
    }
    if let Some(v) = &q.source {
        filters.push(Filter::new("#src = :src", "#src", attr::SOURCE).value(":src", s(v)));
    }
    if let Some(v) = &q.campaign {
        filters.push(Filter::new("#cmp = :cmp", "#cmp", attr::CAMPAIGN).value(":cmp", s(v)));
    }
    if let Some(v) = &q.search {
        filters.push(
            Filter::new(
                "(contains(#q, :q) OR contains(#em, :q))",
                "#q",
                attr::SEARCH,
            )
            .value(":q", s(v)),
        );
        filters.push(Filter::new("", "#em", attr::EMAIL));
    }
    if let Some(t) = q.entered_before {
        filters.push(
            Filter::new("#se < :se", "#se", attr::STAGE_ENTERED)
                .value(":se", n(t.timestamp_millis())),
        );
    }
    filters.push(match q.quarantine {
        QuarantineFilter::Exclude => {
            Filter::new("attribute_not_exists(#qr)", "#qr", attr::QUARANTINED)
        }
        QuarantineFilter::Only => Filter::new("attribute_exists(#qr)", "#qr", attr::QUARANTINED),
    });
    for f in &filters {
        req = req.expression_attribute_names(f.placeholder, f.attribute);
        if let Some((k, v)) = &f.value {
            req = req.expression_attribute_values(*k, v.clone());
        }
    }
    let clauses: Vec<&str> = filters
        .iter()
        .map(|f| f.clause)
        .filter(|c| !c.is_empty())
        .collect();
    req.filter_expression(clauses.join(" AND "))
}

/// The leads of the page, in the page's order (a lead deleted meanwhile is left out).
async fn read_leads(
    store: &DynamoStore,
    pks: &[String],
) -> Result<Vec<leadpipe_core::domain::Lead>, StoreError> {
    let keys: Vec<keys::Key> = pks
        .iter()
        .map(|pk| keys::key(pk.clone(), keys::LEAD_SK))
        .collect();
    let items = store.batch_get(keys, false).await?;
    let mut by_pk: std::collections::HashMap<String, Item> = items
        .into_iter()
        .filter_map(|i| {
            i.get(PK)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .map(|pk| (pk, i))
        })
        .collect();
    let mut leads = Vec::with_capacity(pks.len());
    for pk in pks {
        if let Some(item) = by_pk.remove(pk) {
            leads.push(lead_from_item(&item)?);
        }
    }
    Ok(leads)
}

/// A page of the postback log: for each day from today back to the oldest that can hold unexpired entries, the
/// day's [`keys::LOG_SHARDS`] partitions are queried newest first and merged.
pub(crate) async fn postback_log(
    store: &DynamoStore,
    q: &PostbackLogQuery,
) -> Result<PostbackLogPage, StoreError> {
    let today = chrono::Utc::now().date_naive();
    // The cursor is `<day>|<sort key>`: continue on that day below that key, then older days.
    let (mut day, mut below) = match q.after.as_deref().and_then(|c| c.split_once('|')) {
        Some((d, k)) => (
            d.parse::<chrono::NaiveDate>().unwrap_or(today),
            Some(k.to_string()),
        ),
        None => (today, None),
    };
    let oldest = q.since;
    let mut page = PostbackLogPage::default();
    let now = chrono::Utc::now();
    while day >= oldest {
        let reads = (0..keys::LOG_SHARDS).map(|shard| {
            let mut req = store
                .client
                .query()
                .table_name(&store.table)
                .expression_attribute_values(":pk", s(keys::log_pk(q.status.as_str(), day, shard)))
                .scan_index_forward(false)
                .limit(i32::try_from(q.limit + 1).unwrap_or(200));
            req = match &below {
                Some(k) => req
                    .key_condition_expression("pk = :pk AND sk < :below")
                    .expression_attribute_values(":below", s(k.clone())),
                None => req.key_condition_expression("pk = :pk"),
            };
            req.send()
        });
        let mut rows: Vec<(String, PostbackLogEntry)> = Vec::new();
        for out in futures_util::future::join_all(reads).await {
            for item in out.map_err(sdk_error)?.items.unwrap_or_default() {
                let sk = item
                    .get(keys::SK)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let Some(AttributeValue::S(data)) = item.get(attr::DATA) else {
                    continue;
                };
                let entry: PostbackLogEntry = serde_json::from_str(data).map_err(|e| {
                    crate::error::internal(format!("log entry does not decode: {e}"))
                })?;
                if entry.expires_at > now {
                    rows.push((sk, entry));
                }
            }
        }
        rows.sort_by(|a, b| b.0.cmp(&a.0));
        let mut last_sk = None;
        for (sk, entry) in rows {
            if page.entries.len() == q.limit {
                page.next_after = last_sk.map(|k| format!("{day}|{k}"));
                return Ok(page);
            }
            page.entries.push(entry);
            last_sk = Some(sk);
        }
        day = day.pred_opt().unwrap_or(oldest - chrono::Duration::days(1));
        below = None;
    }
    Ok(page)
}
