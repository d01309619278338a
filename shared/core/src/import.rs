//! Importing leads from another tool (`POST /api/import`, `leadpipe import`): the service side of
//! [`crate::domain::import`], which holds the file format and the merge rules.
//!
//! Rows are read in windows of [`MERGE_WINDOW`]; rows about one lead are merged in file order and each lead is
//! applied once through [`crate::store::LeadStore::change`], like postbacks, up to [`IMPORT_CONCURRENCY`] in
//! flight, so memory stays bounded whatever the file's size and every lead's change is atomic on both stores. Analytics need nothing special:
//! counters are a function of each lead's state, bucketed by its `created_at` day (and stage times), so a back-dated
//! lead counts on its real day on SQLite (in the write's transaction) and on DynamoDB (in the stream consumer,
//! from the item's images).

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

use futures_util::stream::{FuturesOrdered, StreamExt};

use uuid::Uuid;

use crate::domain::import::{import_into, import_new, ImportRecord, ImportReport, Rows};
use crate::domain::import_merge::Grouper;
use crate::domain::Lead;
use crate::service::{now, Leadpipe, ServiceError};
use crate::store::{Decision, LeadRef, StoreError};

/// Rows applied at once by [`Leadpipe::import`]: enough to hide DynamoDB's round trips, few enough to stay far from
/// a table's throughput and keep memory flat.
pub const IMPORT_CONCURRENCY: usize = 16;

/// Rows read before a window's rows about one lead are merged and applied: rows about one lead further apart than
/// this in a file are applied one after the other instead (memory stays bounded whatever the file's size).
pub const MERGE_WINDOW: usize = 20_000;

/// What one imported row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    /// Created a lead.
    Imported,
    /// Changed a lead.
    Updated,
    /// Matched a lead that already held everything it carries.
    Unchanged,
}

impl Leadpipe {
    /// Applies one validated row: creates or merges its lead (see [`crate::domain::import`]). `Err(Ok(message))`
    /// rejects the row (an email held by another lead, a lead changed concurrently through every retry);
    /// `Err(Err(_))` means the store failed and the import should stop.
    pub async fn import_record(
        &self,
        mut rec: ImportRecord,
    ) -> Result<RowOutcome, Result<String, ServiceError>> {
        // IP_ADDRESSES applies to imported rows as to postbacks (text that is not an address is left out).
        rec.postback.text.ip_address = self
            .settings
            .ip_addresses
            .stored(rec.postback.text.ip_address.as_deref());
        let target = LeadRef {
            id: rec.postback.lead_id,
            email: rec.postback.email.clone(),
        };
        let pipeline = self.settings.pipeline.clone();
        let new_id = rec.postback.lead_id.unwrap_or_else(Uuid::new_v4);
        let decide = Arc::new(move |existing: Option<&Lead>| {
            let at = now();
            Decision::Apply(Box::new(match existing {
                None => import_new(&rec, &pipeline, new_id, at),
                Some(lead) => import_into(lead, &rec, &pipeline, at),
            }))
        });
        match self.change(&target, decide).await {
            Ok(changed) => Ok(match (&changed.before, &changed.decision) {
                (None, _) => RowOutcome::Imported,
                (Some(_), Decision::Apply(a)) if a.modified => RowOutcome::Updated,
                _ => RowOutcome::Unchanged,
            }),
            Err(StoreError::EmailTaken(email)) => Err(Ok(format!(
                "email {email} already belongs to another lead than lead_id"
            ))),
            Err(StoreError::Conflict) => Err(Ok(
                "the lead was changed concurrently through every retry; import the row again"
                    .into(),
            )),
            Err(e) => Err(Err(e.into())),
        }
    }

    /// Imports every row of `rows`; a bad row is rejected (with its line) and the rest goes on. Rows about the
    /// same lead are merged in file order first ([`crate::domain::import_merge`]), within windows of
    /// [`MERGE_WINDOW`] rows, so a file applied twice changes nothing. Each merged group is applied once, up to
    /// [`IMPORT_CONCURRENCY`] at a time; groups that share a `lead_id` or email wait for each other. A group's
    /// first line counts its outcome and its later lines count as updates of it (or unchanged, when it changed
    /// nothing); rejected lines are listed in file order. `progress` is called after each group with the report
    /// so far. Stops with an error only when the store fails (groups already in flight finish first).
    pub async fn import<R: BufRead>(
        &self,
        rows: Rows<R>,
        mut progress: impl FnMut(&ImportReport),
    ) -> Result<ImportReport, ServiceError> {
        let mut report = ImportReport::default();
        let (pipeline, zone) = (&self.settings.pipeline, &self.settings.time_zone);
        let mut window = Grouper::default();
        let mut unreadable: Vec<(usize, String)> = Vec::new();
        for (line, row) in rows {
            match row.and_then(|obj| ImportRecord::parse(obj, pipeline, zone, now())) {
                Ok(rec) => window.add(line, rec, pipeline),
                Err(why) => unreadable.push((line, why)),
            }
            if window.len() + unreadable.len() >= MERGE_WINDOW {
                self.apply_window(&mut window, &mut unreadable, &mut report, &mut progress)
                    .await?;
            }
        }
        self.apply_window(&mut window, &mut unreadable, &mut report, &mut progress)
            .await?;
        Ok(report)
    }

    /// Applies one window's groups (and counts its unreadable rows), leaving both empty.
    async fn apply_window(
        &self,
        window: &mut Grouper,
        unreadable: &mut Vec<(usize, String)>,
        report: &mut ImportReport,
        progress: &mut impl FnMut(&ImportReport),
    ) -> Result<(), ServiceError> {
        let mut rejected: Vec<(usize, String)> = std::mem::take(unreadable);
        let mut in_flight = FuturesOrdered::new();
        let mut busy: HashMap<String, usize> = HashMap::new();
        let mut failed = None;
        let mut settle = |(lines, keys, result): (Vec<usize>, Vec<String>, RowResult),
                          report: &mut ImportReport,
                          rejected: &mut Vec<(usize, String)>,
                          busy: &mut HashMap<String, usize>,
                          failed: &mut Option<ServiceError>| {
            for key in keys {
                if let Some(n) = busy.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        busy.remove(&key);
                    }
                }
            }
            let later = u64::try_from(lines.len().saturating_sub(1)).unwrap_or(u64::MAX);
            match result {
                Ok(RowOutcome::Imported) => {
                    report.imported += 1;
                    report.updated += later;
                }
                Ok(RowOutcome::Updated) => report.updated += 1 + later,
                Ok(RowOutcome::Unchanged) => report.unchanged += 1 + later,
                Err(Ok(why)) => rejected.extend(lines.into_iter().map(|l| (l, why.clone()))),
                Err(Err(e)) => {
                    failed.get_or_insert(e);
                }
            }
            progress(report);
        };
        for group in window.take() {
            let keys = row_keys(&group.record);
            while in_flight.len() >= IMPORT_CONCURRENCY || keys.iter().any(|k| busy.contains_key(k))
            {
                let Some(done) = in_flight.next().await else {
                    break;
                };
                settle(done, report, &mut rejected, &mut busy, &mut failed);
            }
            if failed.is_some() {
                break;
            }
            for key in &keys {
                *busy.entry(key.clone()).or_insert(0) += 1;
            }
            in_flight.push_back(async move {
                let result = self.import_record(group.record).await;
                (group.lines, keys, result)
            });
        }
        while let Some(done) = in_flight.next().await {
            settle(done, report, &mut rejected, &mut busy, &mut failed);
        }
        rejected.sort_by_key(|(line, _)| *line);
        for (line, why) in rejected {
            report.reject(line, why);
        }
        progress(report);
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What one row's import gave: its outcome, a rejection (`Err(Ok(why))`) or a store failure.
type RowResult = Result<RowOutcome, Result<String, ServiceError>>;

/// The keys a row is matched by (its `lead_id` and email): rows sharing one are applied one after another.
fn row_keys(rec: &ImportRecord) -> Vec<String> {
    let id = rec.postback.lead_id.map(|id| format!("id:{id}"));
    let email = rec
        .postback
        .email
        .as_ref()
        .map(|e| format!("email:{}", e.as_str()));
    id.into_iter().chain(email).collect()
}
