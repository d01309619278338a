//! Importing leads from another tool: reading a CSV (with a header row) or JSON-lines file row by row, turning a
//! row into a validated [`ImportRecord`], and the pure merge rules that make importing idempotent.
//!
//! **Rows.** A row carries every postback field (as `POST /api/postback` takes them, through [`Postback::from_object`])
//! plus history: `created_at`, `stage_entered_at`, and the time each stage was first reached — CSV columns named
//! `reached <Stage> at` (what the dashboard's CSV export writes), or in JSON lines a `stages` (or
//! `stage_reached_at`) object `{"Paid": "2026-01-02T10:00:00Z"}` or the same flat keys. Times are RFC 3339 or
//! `YYYY-MM-DD` (the start of that day in the reporting time zone). `id` is read as `lead_id`, `first_touch_<field>`
//! columns (or a `first_touch` object) give first-touch attribution, and the export's bookkeeping columns
//! (`updated_at`, `version`, `stage_changes`, `quarantine`) are ignored. Other unknown columns go to `custom_data`,
//! as with postbacks.
//!
//! **Rejected rows.** Import is stricter than a postback (the operator can fix the file): a row is rejected, with
//! its reason, when it names no lead (neither `email` nor `lead_id`/`id`), when any value would be left out by the
//! postback rules (a bad email, stage, lead id, number or `custom_data`), when a time does not parse, lies in the
//! future, or comes before `created_at`. Over-long text is cut and control characters removed, as for postbacks.
//!
//! **Merge rules** (a row is matched to a lead by `lead_id`, then by email, as postbacks are):
//! - no lead: one is created with the row's id (when given) at `created_at` (else the earliest stage time, else
//!   now), in the row's stage (else the furthest stage it has a time for, else the first stage); the first stage
//!   counts as reached at creation, and other stages up to the current one without a time as reached when the
//!   next known stage was (the lead skipped past them). Its history holds one entry: created in its stage at `created_at`.
//! - a lead: fields are merged as a server-key postback does (present values overwrite, `custom_data` merges by
//!   key; first touch changes only where the row has `first_touch_*` columns, which fill unknown fields); the stage only moves forward (unless `force_stage`), entered
//!   at the row's time for that stage; `created_at` and each stage's reached time become the earlier of the stored
//!   and the imported one.
//!
//! Applying the same row twice therefore changes nothing the second time: the row reports as *unchanged*.

use std::collections::BTreeMap;
use std::io::BufRead;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::lead::{Attribution, Lead, StageChange, TextFields, Via, MAX_RECORDED_CHANGES};
use super::merge::{apply_postback, new_lead, Access, Applied};
use super::postback::Postback;
use super::stage::{Pipeline, Stage};
use super::warning::WarningCode;
use super::zone::ReportingZone;

/// Longest row accepted, in bytes (a longer line is rejected and skipped, so memory stays bounded).
pub const MAX_ROW_BYTES: usize = 256 * 1024;
/// Most rejected rows listed in a report (all are counted in `rejected_total`).
pub const MAX_REJECTED_LISTED: usize = 1000;
/// Most columns a CSV header may have.
pub const MAX_COLUMNS: usize = 200;

/// The two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values (RFC 4180) with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl Format {
    /// The format a content type names: `text/csv`, or `application/x-ndjson` / `application/jsonl` (and their
    /// `x-`/plain variants); `None` for anything else (then the content is sniffed).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            "text/csv" | "application/csv" => Some(Self::Csv),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonl"
            | "application/jsonlines" => Some(Self::JsonLines),
            _ => None,
        }
    }

    /// Sniffs the format from the start of the content: JSON lines when the first non-blank character is `{`,
    /// else CSV.
    pub fn sniff(start: &[u8]) -> Self {
        let start = start.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(start);
        match start.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Self::JsonLines,
            _ => Self::Csv,
        }
    }
}

/// Why a file cannot be imported at all (a bad row only rejects that row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The content is not CSV with a usable header nor JSON lines.
    #[error("{0}")]
    NotImportable(String),
    /// The file could not be read.
    #[error("could not read the file: {0}")]
    Read(String),
}

/// One row of a rejected import: its 1-based line in the file (the header is line 1 of a CSV) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedRow {
    /// Line number where the row starts.
    pub line: usize,
    /// What is wrong with it.
    pub error: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Rows that created a lead.
    pub imported: u64,
    /// Rows that changed an existing lead.
    pub updated: u64,
    /// Rows that matched a lead which already held everything they carry (nothing written).
    pub unchanged: u64,
    /// Rejected rows, the first [`MAX_REJECTED_LISTED`] of them.
    pub rejected: Vec<RejectedRow>,
    /// All rejected rows.
    pub rejected_total: u64,
}

impl ImportReport {
    /// Records a rejected row.
    pub fn reject(&mut self, line: usize, error: impl Into<String>) {
        self.rejected_total += 1;
        if self.rejected.len() < MAX_REJECTED_LISTED {
            self.rejected.push(RejectedRow {
                line,
                error: error.into(),
            });
        }
    }

    /// Rows seen so far.
    pub fn rows(&self) -> u64 {
        self.imported + self.updated + self.unchanged + self.rejected_total
    }
}

/// A file read row by row, never more than one row in memory.
pub struct Rows<R> {
    src: R,
    format: Format,
    header: Vec<String>,
    /// Physical lines consumed so far.
    line: usize,
    done: bool,
}

/// One row as read: its line number and its fields as a JSON object, or why it could not be read.
pub type RawRow = (usize, Result<Map<String, Value>, String>);

impl<R: BufRead> Rows<R> {
    /// Starts reading `src` as `format` (sniffed from its first bytes when `None`); for CSV, reads the header,
    /// which must name an `email`, `lead_id` or `id` column.
    pub fn new(mut src: R, format: Option<Format>) -> Result<Self, FileError> {
        let format = match format {
            Some(f) => f,
            None => Format::sniff(src.fill_buf().map_err(|e| FileError::Read(e.to_string()))?),
        };
        let mut rows = Self {
            src,
            format,
            header: Vec::new(),
            line: 0,
            done: false,
        };
        if format == Format::Csv {
            rows.read_header()?;
        }
        Ok(rows)
    }

    /// The format being read.
    pub fn format(&self) -> Format {
        self.format
    }

    fn read_header(&mut self) -> Result<(), FileError> {
        let not_csv = |why: &str| {
            FileError::NotImportable(format!(
                "the content is neither JSON lines nor CSV with a header row: {why}"
            ))
        };
        let header = loop {
            match self.next_record() {
                None => return Err(not_csv("it is empty")),
                Some((_, Err(e))) => return Err(not_csv(&e)),
                Some((_, Ok(fields))) if fields.iter().all(|f| f.trim().is_empty()) => continue,
                Some((_, Ok(fields))) => break fields,
            }
        };
        if header.len() > MAX_COLUMNS {
            return Err(not_csv(&format!(
                "the header has more than {MAX_COLUMNS} columns"
            )));
        }
        let header: Vec<String> = header
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                if i == 0 {
                    h.trim_start_matches('\u{feff}').to_string()
                } else {
                    h
                }
            })
            .collect();
        let mut seen = Vec::new();
        let header: Vec<String> = header
            .into_iter()
            .map(|h| {
                let h = h.trim();
                match canonical_column(h) {
                    // The first column for a field takes it; a second one ("Email" beside "Email Address")
                    // keeps its own name (custom data), so it never overwrites the first with its blanks.
                    Some(field) if !seen.contains(&field) => {
                        seen.push(field.clone());
                        field
                    }
                    _ => h.to_string(),
                }
            })
            .collect();
        if !header
            .iter()
            .any(|h| matches!(h.to_ascii_lowercase().as_str(), "email" | "lead_id" | "id"))
        {
            return Err(not_csv(
                "the header row must name an email, lead_id or id column",
            ));
        }
        self.header = header;
        Ok(())
    }

    /// Reads one physical line (without its line ending), at most [`MAX_ROW_BYTES`]; `Err` when it is longer
    /// (the rest of it is skipped) or not UTF-8.
    fn read_line(&mut self) -> Option<Result<String, String>> {
        let mut buf = Vec::new();
        let read = std::io::Read::take(&mut self.src, MAX_ROW_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf);
        match read {
            Err(e) => {
                self.done = true;
                return Some(Err(format!("could not read the file: {e}")));
            }
            Ok(0) => {
                self.done = true;
                return None;
            }
            Ok(_) => {}
        }
        self.line += 1;
        if buf.len() > MAX_ROW_BYTES && buf.last() != Some(&b'\n') {
            // Skip the rest of this line without keeping it.
            loop {
                let chunk = match self.src.fill_buf() {
                    Ok(c) if !c.is_empty() => c,
                    _ => break,
                };
                match chunk.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        self.src.consume(i + 1);
                        break;
                    }
                    None => {
                        let n = chunk.len();
                        self.src.consume(n);
                    }
                }
            }
            return Some(Err(format!("the row is longer than {MAX_ROW_BYTES} bytes")));
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        Some(String::from_utf8(buf).map_err(|_| "the row is not valid UTF-8 text".to_string()))
    }

    /// The next CSV record (RFC 4180: quoted fields may hold commas, `""` and line breaks) with its first line.
    fn next_record(&mut self) -> Option<(usize, Result<Vec<String>, String>)> {
        if self.done {
            return None;
        }
        let first = self.line + 1;
        let mut text = match self.read_line()? {
            Ok(t) => t,
            Err(e) => return Some((first, Err(e))),
        };
        loop {
            match split_csv(&text) {
                Some(fields) => return Some((first, Ok(fields))),
                None => {
                    // An open quote: the record goes on on the next line.
                    let more = match self.read_line() {
                        None => {
                            return Some((
                                first,
                                Err("a quoted field is not closed before the end of the file"
                                    .into()),
                            ))
                        }
                        Some(Err(e)) => return Some((first, Err(e))),
                        Some(Ok(more)) => more,
                    };
                    if text.len() + more.len() > MAX_ROW_BYTES {
                        return Some((
                            first,
                            Err(format!("the row is longer than {MAX_ROW_BYTES} bytes")),
                        ));
                    }
                    text.push('\n');
                    text.push_str(&more);
                }
            }
        }
    }

    /// The next row (blank lines are skipped).
    pub fn next_row(&mut self) -> Option<RawRow> {
        loop {
            match self.format {
                Format::JsonLines => {
                    let line_no = self.line + 1;
                    let line = self.read_line()?;
                    let text = match line {
                        Ok(t) => t,
                        Err(e) => return Some((line_no, Err(e))),
                    };
                    let text = text.trim_start_matches('\u{feff}').trim();
                    if text.is_empty() {
                        continue;
                    }
                    return Some((
                        line_no,
                        match serde_json::from_str::<Value>(text) {
                            Ok(Value::Object(obj)) => Ok(obj),
                            Ok(_) => Err("the line must be a JSON object".into()),
                            Err(e) => Err(format!("the line is not valid JSON: {e}")),
                        },
                    ));
                }
                Format::Csv => {
                    let (line_no, record) = self.next_record()?;
                    let fields = match record {
                        Ok(f) => f,
                        Err(e) => return Some((line_no, Err(e))),
                    };
                    if fields.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    if fields.len() > self.header.len() {
                        return Some((
                            line_no,
                            Err(format!(
                                "the row has {} values but the header names {} columns",
                                fields.len(),
                                self.header.len()
                            )),
                        ));
                    }
                    let mut obj = Map::new();
                    for (name, value) in self.header.iter().zip(fields) {
                        if !name.is_empty() && !value.trim().is_empty() {
                            obj.insert(name.clone(), Value::String(unneutralise(value)));
                        }
                    }
                    return Some((line_no, Ok(obj)));
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for Rows<R> {
    type Item = RawRow;

    fn next(&mut self) -> Option<RawRow> {
        self.next_row()
    }
}

/// Splits one CSV record; `None` when a quoted field is still open at the end (the record continues on the next
/// line).
fn split_csv(text: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            fields.push(std::mem::take(&mut field));
            at_start = true;
        } else {
            field.push(c);
            at_start = false;
        }
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}

/// Undoes the export's formula neutralising: a leading `'` before `=`, `+`, `-`, `@` or a tab is dropped.
fn unneutralise(value: String) -> String {
    match value.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t']) => rest.to_string(),
        _ => value,
    }
}

/// A validated row: the postback it carries and its history.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRecord {
    /// The fields, as a server-key postback (its `lead_id` from `lead_id` or `id`).
    pub postback: Postback,
    /// When the lead was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When the lead entered its current stage.
    pub stage_entered_at: Option<DateTime<Utc>>,
    /// When the lead first reached each stage.
    pub reached: BTreeMap<Stage, DateTime<Utc>>,
    /// First-touch attribution as the other tool knew it.
    pub first_touch: Attribution,
}

/// Columns of the export and of stored leads that carry nothing to import.
const IGNORED: &[&str] = &[
    "updated_at",
    "version",
    "stage_changes",
    "quarantine",
    "token",
];

impl ImportRecord {
    /// Validates one row (see the module documentation for what is rejected). `now` bounds times (none in the
    /// future); `zone` says where a bare date's day starts.
    pub fn parse(
        mut obj: Map<String, Value>,
        pipeline: &Pipeline,
        zone: &ReportingZone,
        now: DateTime<Utc>,
    ) -> Result<Self, String> {
        for name in IGNORED {
            obj.remove(*name);
        }
        if let Some(id) = obj.remove("id") {
            if obj.get("lead_id").is_none_or(Value::is_null) {
                obj.insert("lead_id".into(), id);
            }
        }
        let time = |name: &str, v: Value| -> Result<Option<DateTime<Utc>>, String> {
            let t = match v {
                Value::Null => return Ok(None),
                Value::String(s) if s.trim().is_empty() => return Ok(None),
                Value::String(s) => parse_time(s.trim(), zone).ok_or_else(|| {
                    format!("{name}: \"{}\" is not a time (RFC 3339, e.g. 2026-01-02T10:00:00Z, or YYYY-MM-DD)", clip_chars(&s, 40))
                })?,
                _ => return Err(format!("{name} must be a time as text (RFC 3339 or YYYY-MM-DD)")),
            };
            if t > now {
                return Err(format!("{name} is in the future"));
            }
            Ok(Some(t))
        };
        let created_at = obj
            .remove("created_at")
            .map_or(Ok(None), |v| time("created_at", v))?;
        let stage_entered_at = obj
            .remove("stage_entered_at")
            .map_or(Ok(None), |v| time("stage_entered_at", v))?;
        let mut reached = BTreeMap::new();
        for key in ["stages", "stage_reached_at"] {
            match obj.remove(key) {
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => {
                    for (name, v) in map {
                        let stage = pipeline.stage(&name).map_err(|e| format!("{key}: {e}"))?;
                        if let Some(t) = time(&format!("{key}.{}", stage.as_str()), v)? {
                            reached.insert(stage, t);
                        }
                    }
                }
                Some(_) => return Err(format!("{key} must be an object of stage name to time")),
            }
        }
        for stage in pipeline.stages() {
            let column = format!("reached {} at", stage.as_str());
            let found = obj
                .keys()
                .find(|k| k.eq_ignore_ascii_case(&column))
                .cloned();
            if let Some(k) = found {
                if let Some(v) = obj.remove(&k) {
                    if let Some(t) = time(&column, v)? {
                        reached.insert(stage.clone(), t);
                    }
                }
            }
        }
        let first_touch = take_first_touch(&mut obj)?;
        for name in [
            "form_completion_percent",
            "form_fields_completed",
            "form_fields_total",
        ] {
            if let Some(Value::String(s)) = obj.get(name) {
                let n = s
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .ok_or_else(|| format!("{name} must be a number"))?;
                let n = if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f >= 0.0) {
                    Value::from(n.as_f64().unwrap_or_default() as u64)
                } else {
                    Value::Number(n)
                };
                obj.insert(name.into(), n);
            }
        }
        if let Some(Value::String(s)) = obj.get("custom_data") {
            let parsed: Value = serde_json::from_str(s)
                .map_err(|_| "custom_data must be a JSON object".to_string())?;
            obj.insert("custom_data".into(), parsed);
        }
        if let Some(Value::String(s)) = obj.get("force_stage") {
            let b = match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err("force_stage must be true or false".into()),
            };
            obj.insert("force_stage".into(), Value::Bool(b));
        }
        let parsed = Postback::from_object(obj, pipeline, None);
        if let Some(w) = parsed
            .warnings
            .iter()
            .find(|w| w.code == WarningCode::Dropped)
        {
            return Err(w.message.clone());
        }
        let postback = parsed.postback;
        if postback.email.is_none() && postback.lead_id.is_none() {
            return Err(
                "the row has no email and no lead_id: there is no way to tell which lead it is"
                    .into(),
            );
        }
        if let Some(created) = created_at {
            if let Some((stage, _)) = reached.iter().find(|(_, t)| **t < created) {
                return Err(format!("the lead reached {stage} before its created_at"));
            }
            if stage_entered_at.is_some_and(|t| t < created) {
                return Err("stage_entered_at is before created_at".into());
            }
        }
        Ok(Self {
            postback,
            created_at,
            stage_entered_at,
            reached,
            first_touch,
        })
    }
}

/// Other tools' names for the postback fields, squashed as [`squash`] does: the contact exports of HubSpot
/// ("Email", "Phone Number", "Company Name"), Pipedrive ("Email - Work", "Phone - Work", "Organization") and
/// Mailchimp ("Email Address", "First Name", "Phone Number").
const COLUMN_ALIASES: &[(&str, &str)] = &[
    ("emailaddress", "email"),
    ("emailwork", "email"),
    ("emailhome", "email"),
    ("emailother", "email"),
    ("contactemail", "email"),
    ("phonenumber", "phone"),
    ("phonework", "phone"),
    ("phonemobile", "phone"),
    ("phonehome", "phone"),
    ("phoneother", "phone"),
    ("mobilephone", "phone"),
    ("mobilephonenumber", "phone"),
    ("companyname", "company"),
    ("organization", "company"),
    ("organisation", "company"),
    ("organizationname", "company"),
    ("givenname", "first_name"),
    ("familyname", "last_name"),
    ("surname", "last_name"),
];

/// A column name lower-cased with everything but letters and digits taken out: "First Name", "first_name",
/// "FIRST-NAME" and " firstName " are all "firstname".
fn squash(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The import field a CSV column names, matched case-, space- and punctuation-insensitively (`Email`,
/// `E-mail`, `Email Address` → `email`; `First Name` → `first_name`; `Created At` → `created_at`), or `None`
/// for a column that is no field (it goes to `custom_data` under its own name; `reached <Stage> at` columns
/// are matched later, against the pipeline).
pub fn canonical_column(name: &str) -> Option<String> {
    let key = squash(name);
    if key.is_empty() {
        return None;
    }
    field_named(&key).or_else(|| {
        // Pipedrive prefixes its columns with the record type ("Person - Email - Work"). Never for the lead id:
        // "Person - ID" is Pipedrive's own number, not a Leadpipe lead id.
        ["person", "contact"]
            .iter()
            .find_map(|prefix| key.strip_prefix(prefix))
            .and_then(field_named)
            .filter(|field| field != "id" && field != "lead_id")
    })
}

fn field_named(key: &str) -> Option<String> {
    let text = TextFields::LIMITS.iter().map(|(n, _)| *n);
    let first_touch = TextFields::LIMITS
        .iter()
        .map(|(n, _)| format!("first_touch_{n}"));
    super::postback::OTHER_FIELDS
        .iter()
        .copied()
        .chain(text)
        .chain([
            "id",
            "created_at",
            "stage_entered_at",
            "stage_reached_at",
            "stages",
        ])
        .map(str::to_string)
        .chain(first_touch)
        .find(|field| squash(field) == key)
        .or_else(|| {
            COLUMN_ALIASES
                .iter()
                .find(|(alias, _)| *alias == key)
                .map(|(_, field)| (*field).to_string())
        })
}

/// Reads `first_touch_<field>` columns and a `first_touch` object.
fn take_first_touch(obj: &mut Map<String, Value>) -> Result<Attribution, String> {
    let mut fields = Map::new();
    match obj.remove("first_touch") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => fields = m,
        Some(_) => return Err("first_touch must be an object".into()),
    }
    let prefixed: Vec<String> = obj
        .keys()
        .filter(|k| k.starts_with("first_touch_"))
        .cloned()
        .collect();
    for k in prefixed {
        if let Some(v) = obj.remove(&k) {
            fields.insert(k["first_touch_".len()..].to_string(), v);
        }
    }
    if fields.is_empty() {
        return Ok(Attribution::default());
    }
    let mut problem = None;
    let text = TextFields::read_each(|name, max| {
        Ok::<_, ()>(match fields.remove(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                Some(super::postback::clip(s.trim(), max).to_string())
            }
            Some(Value::String(_)) | Some(Value::Null) | None => None,
            Some(_) => {
                problem = Some(format!("first_touch_{name} must be text"));
                None
            }
        })
    })
    .unwrap_or_default();
    if let Some(p) = problem {
        return Err(p);
    }
    let mut attribution = Attribution::default();
    attribution.fill_from(&text);
    Ok(attribution)
}

fn clip_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// RFC 3339 (also with a space instead of `T`), or `YYYY-MM-DD`: the start of that day in `zone`.
pub fn parse_time(s: &str, zone: &ReportingZone) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(&s.replacen(' ', "T", 1)) {
        return Some(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    zone.start_of_day(day)
}

/// Whether two leads hold the same data, ignoring the write bookkeeping (`updated_at`, `version`).
fn same_data(a: &Lead, b: &Lead) -> bool {
    let mut a = a.clone();
    a.updated_at = b.updated_at;
    a.version = b.version;
    a == *b
}

/// A new lead from an import row (see the module documentation). Its id is the row's `lead_id`, else `id`.
pub fn import_new(
    rec: &ImportRecord,
    pipeline: &Pipeline,
    id: Uuid,
    now: DateTime<Utc>,
) -> Applied {
    let earliest = rec.reached.values().min().copied();
    let created_at = rec.created_at.or(earliest).unwrap_or(now);
    let stage = match &rec.postback.stage {
        Some(s) => s.clone(),
        None => pipeline
            .stages()
            .iter()
            .rev()
            .find(|s| rec.reached.contains_key(*s))
            .unwrap_or_else(|| pipeline.first())
            .clone(),
    };
    let mut pb = rec.postback.clone();
    pb.stage = Some(stage.clone());
    let mut applied = new_lead(&pb, pipeline, id, created_at, &Access::Full);
    let mut first_touch = rec.first_touch.clone();
    first_touch.fill_from(&pb.text);
    let lead = &mut applied.lead;
    lead.first_touch = first_touch;
    lead.stage_reached_at = reached_times(
        &rec.reached,
        pipeline,
        &stage,
        created_at,
        rec.stage_entered_at,
    );
    lead.stage_entered_at = rec
        .stage_entered_at
        .or_else(|| lead.stage_reached_at.get(&stage).copied())
        .unwrap_or(created_at);
    lead.updated_at = now;
    applied.history = Some(StageChange {
        from: None,
        to: stage,
        at: created_at,
        via: Via::Postback,
        forced: false,
        by: None,
    });
    applied
}

/// The reached time of every stage up to `current` (see the module documentation), plus any later stage given.
fn reached_times(
    given: &BTreeMap<Stage, DateTime<Utc>>,
    pipeline: &Pipeline,
    current: &Stage,
    created_at: DateTime<Utc>,
    entered: Option<DateTime<Utc>>,
) -> BTreeMap<Stage, DateTime<Utc>> {
    let stages = pipeline.stages();
    let mut out = given.clone();
    let Some(cur) = pipeline.index_of(current) else {
        return out;
    };
    let latest_given = given.values().max().copied();
    for i in 0..=cur {
        let stage = &stages[i];
        if out.contains_key(stage) {
            continue;
        }
        let t = if i == 0 {
            created_at
        } else {
            stages[i + 1..]
                .iter()
                .filter_map(|s| given.get(s))
                .min()
                .copied()
                .or(if i == cur { entered } else { None })
                .or(latest_given)
                .unwrap_or(created_at)
        };
        out.insert(stage.clone(), t);
    }
    out
}

/// An import row applied to an existing lead (see the module documentation); `Applied::unchanged` when the lead
/// already holds everything the row carries.
pub fn import_into(
    existing: &Lead,
    rec: &ImportRecord,
    pipeline: &Pipeline,
    now: DateTime<Utc>,
) -> Applied {
    let mut pb = rec.postback.clone();
    let target = pb.stage.take();
    let force = pb.force_stage;
    let mut applied = apply_postback(existing, &pb, pipeline, now, &Access::Full);
    let lead = &mut applied.lead;
    lead.first_touch
        .fill_from(&attribution_text(&rec.first_touch));
    if let Some(created) = rec.created_at {
        lead.created_at = lead.created_at.min(created);
    }
    for (stage, t) in &rec.reached {
        let e = lead.stage_reached_at.entry(stage.clone()).or_insert(*t);
        *e = (*e).min(*t);
    }
    let mut history = None;
    if let Some(target) = target {
        let (cur, tgt) = (pipeline.index_of(&lead.stage), pipeline.index_of(&target));
        let forward = match (cur, tgt) {
            (Some(c), Some(t)) => t > c,
            _ => lead.stage != target,
        };
        let backward = matches!((cur, tgt), (Some(c), Some(t)) if t < c);
        if forward || (backward && force) {
            let at = rec
                .stage_entered_at
                .or_else(|| rec.reached.get(&target).copied())
                .unwrap_or(now);
            let change = StageChange {
                from: Some(lead.stage.clone()),
                to: target.clone(),
                at,
                via: Via::Postback,
                forced: backward,
                by: None,
            };
            lead.stage = target.clone();
            lead.stage_entered_at = at;
            lead.stage_changes = lead.stage_changes.saturating_add(1);
            if let Some(t) = tgt {
                for stage in &pipeline.stages()[..=t] {
                    lead.stage_reached_at.entry(stage.clone()).or_insert(at);
                }
            }
            history = (lead.stage_changes <= MAX_RECORDED_CHANGES).then_some(change);
            applied.moved = true;
        }
    }
    applied.history = history;
    if same_data(&applied.lead, existing) {
        return Applied::unchanged(existing.clone());
    }
    applied.lead.version = existing.version + 1;
    applied.lead.updated_at = now;
    applied.modified = true;
    applied
}

/// An attribution's values as text fields (to fill another attribution from).
pub(crate) fn attribution_text(a: &Attribution) -> TextFields {
    TextFields {
        source: a.source.clone(),
        domain: a.domain.clone(),
        campaign: a.campaign.clone(),
        utm_source: a.utm_source.clone(),
        utm_medium: a.utm_medium.clone(),
        utm_campaign: a.utm_campaign.clone(),
        utm_term: a.utm_term.clone(),
        utm_content: a.utm_content.clone(),
        referrer: a.referrer.clone(),
        device_type: a.device_type.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        t("2026-06-01T00:00:00Z")
    }

    fn rows(text: &str, format: Option<Format>) -> Vec<RawRow> {
        Rows::new(text.as_bytes(), format).unwrap().collect()
    }

    fn record(obj: Value) -> Result<ImportRecord, String> {
        let Value::Object(obj) = obj else { panic!() };
        ImportRecord::parse(obj, &Pipeline::default(), &ReportingZone::utc(), now())
    }

    #[test]
    fn header_names_are_matched_case_space_and_punctuation_insensitively() {
        for (name, field) in [
            ("Email", "email"),
            ("EMAIL", "email"),
            (" e-mail ", "email"),
            ("Email Address", "email"),
            ("First Name", "first_name"),
            ("first name", "first_name"),
            ("LAST_NAME", "last_name"),
            ("Phone Number", "phone"),
            ("UTM Source", "utm_source"),
            ("Created At", "created_at"),
            ("Lead ID", "lead_id"),
            ("ID", "id"),
            ("First Touch Source", "first_touch_source"),
            ("Person - Email - Work", "email"),
            ("Person - Organization", "company"),
        ] {
            assert_eq!(canonical_column(name).as_deref(), Some(field), "{name}");
        }
        for other in [
            "Record ID",
            "Person - ID",
            "Lifecycle Stage",
            "TAGS",
            "",
            " - ",
        ] {
            assert_eq!(canonical_column(other), None, "{other}");
        }
        // Issue 21: "Email" passed the header check, then every row was rejected "no email".
        let got = rows("Email,First Name\nA@X.io,Ada\n", Some(Format::Csv));
        let row = got[0].1.clone().unwrap();
        assert_eq!(row["email"], "A@X.io");
        assert_eq!(row["first_name"], "Ada");
        let rec =
            ImportRecord::parse(row, &Pipeline::default(), &ReportingZone::utc(), now()).unwrap();
        assert_eq!(rec.postback.email.unwrap().as_str(), "a@x.io");
        // A second column for the same field keeps its own name, so its blanks never hide the first one's value.
        let got = rows("Email Address,Email\na@x.io,\n", Some(Format::Csv));
        let row = got[0].1.clone().unwrap();
        assert_eq!(row["email"], "a@x.io");
        assert!(row.get("Email").is_none_or(|v| v == ""));
    }

    #[test]
    fn hubspot_pipedrive_and_mailchimp_exports_import_without_editing() {
        for (tool, text, emails) in [
            (
                "HubSpot",
                include_str!("../../../../tests/fixtures/import/hubspot.csv"),
                ["ada.lovelace@example.com", "grace@example.org"],
            ),
            (
                "Pipedrive",
                include_str!("../../../../tests/fixtures/import/pipedrive.csv"),
                ["alan@example.net", "katherine@example.com"],
            ),
            (
                "Mailchimp",
                include_str!("../../../../tests/fixtures/import/mailchimp.csv"),
                ["hedy@example.com", "margaret@example.com"],
            ),
        ] {
            let got = rows(text, None);
            assert_eq!(got.len(), 2, "{tool}");
            for ((_, row), email) in got.into_iter().zip(emails) {
                let row = row.unwrap_or_else(|e| panic!("{tool}: {e}"));
                let rec =
                    ImportRecord::parse(row, &Pipeline::default(), &ReportingZone::utc(), now())
                        .unwrap_or_else(|e| panic!("{tool}: {e}"));
                assert_eq!(
                    rec.postback.email.as_ref().map(|e| e.as_str()),
                    Some(email),
                    "{tool}"
                );
                assert!(
                    rec.postback.lead_id.is_none(),
                    "{tool}: the tool's own id is not a lead id"
                );
                assert!(rec.postback.text.first_name.is_some(), "{tool}: first name");
            }
        }
    }

    #[test]
    fn formats_come_from_the_content_type_or_the_first_character() {
        assert_eq!(
            Format::from_content_type("text/csv; charset=utf-8"),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::from_content_type("application/x-ndjson"),
            Some(Format::JsonLines)
        );
        assert_eq!(Format::from_content_type("application/octet-stream"), None);
        assert_eq!(
            Format::sniff(b"\xEF\xBB\xBF  {\"email\":1}"),
            Format::JsonLines
        );
        assert_eq!(Format::sniff(b"email,stage"), Format::Csv);
    }

    #[test]
    fn csv_rows_keep_their_line_numbers_quotes_and_multi_line_fields() {
        let text = "email,first_name,phone\r\na@x.io,\"Smith, \"\"Jo\"\"\",'+1 555\r\n\r\nb@x.io,\"two\nlines\",\nc@x.io,x,y,extra\n";
        let got = rows(text, None);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, 2);
        let a = got[0].1.as_ref().unwrap();
        assert_eq!(a["first_name"], "Smith, \"Jo\"");
        assert_eq!(a["phone"], "+1 555", "the export's formula guard is undone");
        assert_eq!(got[1].0, 4);
        assert_eq!(got[1].1.as_ref().unwrap()["first_name"], "two\nlines");
        assert!(
            !got[1].1.as_ref().unwrap().contains_key("phone"),
            "empty cells are absent"
        );
        assert_eq!(got[2].0, 6);
        assert!(got[2].1.is_err());
    }

    #[test]
    fn a_body_that_is_not_csv_nor_json_lines_is_refused() {
        assert!(matches!(
            Rows::new(&b"hello world\nfoo"[..], None),
            Err(FileError::NotImportable(_))
        ));
        assert!(matches!(
            Rows::new(&b""[..], Some(Format::Csv)),
            Err(FileError::NotImportable(_))
        ));
        assert!(matches!(
            Rows::new(&b"\"open"[..], None),
            Err(FileError::NotImportable(_))
        ));
    }

    #[test]
    fn json_lines_are_objects_and_bad_lines_are_reported_alone() {
        let got = rows(
            "{\"email\":\"a@x.io\"}\n\n[1]\n{nope\n{\"email\":\"b@x.io\"}",
            None,
        );
        let lines: Vec<usize> = got.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 3, 4, 5]);
        assert!(got[0].1.is_ok() && got[1].1.is_err() && got[2].1.is_err() && got[3].1.is_ok());
    }

    #[test]
    fn an_overlong_line_is_rejected_and_skipped() {
        let text = format!(
            "{{\"email\":\"{}\"}}\n{{\"email\":\"b@x.io\"}}\n",
            "a".repeat(MAX_ROW_BYTES + 10)
        );
        let got = rows(&text, None);
        assert_eq!(got.len(), 2);
        assert!(got[0].1.as_ref().unwrap_err().contains("longer"));
        assert_eq!(got[1].0, 2);
        assert!(got[1].1.is_ok());
    }

    #[test]
    fn rows_parse_times_stages_and_export_columns() {
        let rec = record(json!({
            "id": "7d0f5e5e-8d1f-4f53-9b7b-1c1d0e7a1a11", "email": "A@X.io", "created_at": "2026-01-02",
            "reached New at": "2026-01-02T00:00:00Z", "reached Paid at": "2026-01-05T10:00:00+02:00",
            "form_completion_percent": "50", "custom_data": "{\"plan\":\"pro\"}", "first_touch_source": "google",
            "updated_at": "2026-02-01T00:00:00Z", "stages": {"form started": "2026-01-03T00:00:00Z"}
        }))
        .unwrap();
        assert_eq!(
            rec.postback.lead_id.unwrap().to_string(),
            "7d0f5e5e-8d1f-4f53-9b7b-1c1d0e7a1a11"
        );
        assert_eq!(rec.postback.email.as_ref().unwrap().as_str(), "a@x.io");
        assert_eq!(rec.created_at, Some(t("2026-01-02T00:00:00Z")));
        let p = Pipeline::default();
        assert_eq!(
            rec.reached[&p.stage("Paid").unwrap()],
            t("2026-01-05T08:00:00Z")
        );
        assert_eq!(
            rec.reached[&p.stage("Form Started").unwrap()],
            t("2026-01-03T00:00:00Z")
        );
        assert_eq!(rec.postback.form_completion_percent, Some(50.0));
        assert_eq!(rec.postback.custom_data.as_ref().unwrap()["plan"], "pro");
        assert_eq!(rec.first_touch.source.as_deref(), Some("google"));
        assert!(rec
            .postback
            .custom_data
            .as_ref()
            .unwrap()
            .get("updated_at")
            .is_none());
    }

    #[test]
    fn bad_rows_are_rejected_with_a_reason() {
        for (row, why) in [
            (json!({"first_name": "x"}), "no email"),
            (json!({"email": "not an email"}), "email"),
            (json!({"email": "a@x.io", "stage": "Nope"}), "stage"),
            (
                json!({"email": "a@x.io", "created_at": "yesterday"}),
                "not a time",
            ),
            (
                json!({"email": "a@x.io", "created_at": "2027-01-01"}),
                "future",
            ),
            (
                json!({"email": "a@x.io", "created_at": "2026-01-05", "reached Paid at": "2026-01-01"}),
                "before its created_at",
            ),
            (
                json!({"email": "a@x.io", "form_completion_percent": "lots"}),
                "number",
            ),
            (
                json!({"email": "a@x.io", "form_completion_percent": 150}),
                "0 to 100",
            ),
            (
                json!({"email": "a@x.io", "custom_data": "[1]"}),
                "custom_data",
            ),
        ] {
            let err = record(row.clone()).unwrap_err();
            assert!(err.contains(why), "{row}: {err}");
        }
    }

    #[test]
    fn a_new_lead_is_back_dated_with_its_stage_times() {
        let p = Pipeline::default();
        let rec = record(json!({"email": "a@x.io", "created_at": "2026-01-02T09:00:00Z", "reached Paid at": "2026-01-05T00:00:00Z",
            "source": "google"}))
        .unwrap();
        let a = import_new(&rec, &p, Uuid::nil(), now());
        let l = &a.lead;
        assert_eq!(l.created_at, t("2026-01-02T09:00:00Z"));
        assert_eq!(l.stage.as_str(), "Paid", "the furthest stage with a time");
        assert_eq!(l.stage_entered_at, t("2026-01-05T00:00:00Z"));
        assert_eq!(
            l.stage_reached_at[&p.stage("New").unwrap()],
            t("2026-01-02T09:00:00Z")
        );
        assert_eq!(
            l.stage_reached_at[&p.stage("Application Submitted").unwrap()],
            t("2026-01-05T00:00:00Z")
        );
        assert_eq!(l.first_touch.source.as_deref(), Some("google"));
        assert_eq!(a.history.as_ref().unwrap().at, l.created_at);
        assert_eq!(l.id, Uuid::nil());
    }

    #[test]
    fn importing_the_same_row_twice_changes_nothing() {
        let p = Pipeline::default();
        let rec = record(json!({"email": "a@x.io", "stage": "Paid", "created_at": "2026-01-02", "custom_data": {"k": 1}})).unwrap();
        let first = import_new(&rec, &p, Uuid::new_v4(), now());
        let again = import_into(&first.lead, &rec, &p, t("2026-06-01T00:00:00Z"));
        assert!(!again.modified);
        assert_eq!(again.lead, first.lead);
    }

    #[test]
    fn an_existing_lead_moves_forward_and_keeps_the_earlier_times() {
        let p = Pipeline::default();
        let existing = import_new(
            &record(json!({"email": "a@x.io", "created_at": "2026-03-01"})).unwrap(),
            &p,
            Uuid::nil(),
            now(),
        )
        .lead;
        let rec = record(json!({"email": "a@x.io", "created_at": "2026-02-01", "stage": "Paid", "reached Paid at": "2026-03-10",
            "phone": "+1 555"}))
        .unwrap();
        let a = import_into(&existing, &rec, &p, now());
        assert!(a.modified && a.moved);
        assert_eq!(a.lead.created_at, t("2026-02-01T00:00:00Z"));
        assert_eq!(a.lead.stage.as_str(), "Paid");
        assert_eq!(a.lead.stage_entered_at, t("2026-03-10T00:00:00Z"));
        assert_eq!(a.lead.text.phone.as_deref(), Some("+1 555"));
        assert_eq!(a.lead.version, existing.version + 1);
        let back = record(json!({"email": "a@x.io", "stage": "New"})).unwrap();
        let b = import_into(&a.lead, &back, &p, now());
        assert!(
            !b.modified,
            "a row never moves a lead backwards without force_stage"
        );
    }
}
