//! Importing leads from another tool (`POST /api/import`, `leadpipe import`): the service side of
//! [`crate::domain::import`], which holds the file format and the merge rules.
//!
//! Rows are read and applied one at a time through [`crate::store::LeadStore::change`], like postbacks, so memory
//! stays flat whatever the file's size and every row is atomic on both stores. Analytics need nothing special:
//! counters are a function of each lead's state, bucketed by its `created_at` day (and stage times), so a back-dated
//! lead counts on its real day on SQLite (in the write's transaction) and on DynamoDB (in the stream consumer,
//! from the item's images).

use std::io::BufRead;
use std::sync::Arc;

use uuid::Uuid;

use crate::domain::import::{import_into, import_new, ImportRecord, ImportReport, Rows};
use crate::domain::Lead;
use crate::service::{now, Leadpipe, ServiceError};
use crate::store::{Decision, LeadRef, StoreError};

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
    pub async fn import_record(&self, rec: ImportRecord) -> Result<RowOutcome, Result<String, ServiceError>> {
        let target = LeadRef { id: rec.postback.lead_id, email: rec.postback.email.clone() };
        let pipeline = self.settings.pipeline.clone();
        let new_id = rec.postback.lead_id.unwrap_or_else(Uuid::new_v4);
        let decide = Arc::new(move |existing: Option<&Lead>| {
            let at = now();
            Decision::Apply(Box::new(match existing {
                None => import_new(&rec, &pipeline, new_id, at),
                Some(lead) => import_into(lead, &rec, &pipeline, at),
            }))
        });
        match self.store.change(&target, decide).await {
            Ok(changed) => Ok(match (&changed.before, &changed.decision) {
                (None, _) => RowOutcome::Imported,
                (Some(_), Decision::Apply(a)) if a.modified => RowOutcome::Updated,
                _ => RowOutcome::Unchanged,
            }),
            Err(StoreError::EmailTaken(email)) => Err(Ok(format!("email {email} already belongs to another lead than lead_id"))),
            Err(StoreError::Conflict) => Err(Ok("the lead was changed concurrently through every retry; import the row again".into())),
            Err(e) => Err(Err(e.into())),
        }
    }

    /// Imports every row of `rows`, one at a time; a bad row is rejected (with its line) and the rest goes on.
    /// `progress` is called after each row with the report so far. Stops with an error only when the store fails.
    pub async fn import<R: BufRead>(&self, rows: Rows<R>, mut progress: impl FnMut(&ImportReport)) -> Result<ImportReport, ServiceError> {
        let mut report = ImportReport::default();
        let (pipeline, zone) = (&self.settings.pipeline, &self.settings.time_zone);
        for (line, row) in rows {
            let rec = row.and_then(|obj| ImportRecord::parse(obj, pipeline, zone, now()));
            match rec {
                Err(e) => report.reject(line, e),
                Ok(rec) => match self.import_record(rec).await {
                    Ok(RowOutcome::Imported) => report.imported += 1,
                    Ok(RowOutcome::Updated) => report.updated += 1,
                    Ok(RowOutcome::Unchanged) => report.unchanged += 1,
                    Err(Ok(why)) => report.reject(line, why),
                    Err(Err(e)) => return Err(e),
                },
            }
            progress(&report);
        }
        Ok(report)
    }
}
