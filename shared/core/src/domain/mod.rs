//! Pure domain logic: stages, emails, leads, postback validation, merge rules, counters and analytics.
//! Nothing here does I/O, so all of it is unit-tested directly.

pub mod account;
pub mod actor;
pub mod analytics;
pub mod audit;
pub mod consent;
pub mod counters;
pub mod email;
pub mod import;
pub mod import_merge;
pub mod ip_policy;
pub mod json_repair;
pub mod lead;
pub mod merge;
pub mod money;
pub mod money_report;
pub mod orders;
pub mod postback;
pub mod privacy;
pub mod quarantine;
pub mod spend;
pub mod spend_import;
pub mod stage;
pub mod totp;
pub mod two_factor;
pub mod warning;
pub mod zone;

pub use actor::{Actor, ActorKind, Role};
pub use audit::{AuditAction, AuditEntry, AuditPage, AuditQuery};
pub use email::Email;
pub use lead::{Attribution, Lead, Quarantine, StageChange, TextFields, Via};
pub use postback::Postback;
pub use stage::{Pipeline, Stage};
pub use warning::{Warning, WarningCode};
pub use zone::ReportingZone;
