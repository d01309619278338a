//! Settings read from the environment, once, at start-up.

use chrono_tz::Tz;

use crate::domain::counters::CounterRules;
use crate::domain::stage::{Pipeline, PipelineError};

/// The placeholder key value that, like an unset key, turns a key check off (for local use).
pub const PLACEHOLDER_KEY: &str = "changeme";

/// Everything configurable about Leadpipe's behaviour.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stage order (`PIPELINE_STAGES`).
    pub pipeline: Pipeline,
    /// Time zone for day-based analytics and date filters (`REPORTING_TIMEZONE`, default UTC).
    pub time_zone: Tz,
    /// Ingest key (`API_KEY`): may only post postbacks. `None` = check off.
    pub api_key: Option<String>,
    /// Admin key (`ADMIN_API_KEY`): may do everything. `None` = check off.
    pub admin_api_key: Option<String>,
    /// Origins allowed by CORS (`ALLOWED_ORIGINS`, comma-separated; `*` for any). Empty = same origin only.
    pub allowed_origins: Vec<String>,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `PIPELINE_STAGES` is unusable.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// `REPORTING_TIMEZONE` is unknown.
    #[error("REPORTING_TIMEZONE \"{0}\" is not an IANA time zone name (e.g. UTC, Europe/Berlin)")]
    TimeZone(String),
    /// A required variable is unset.
    #[error("{0} must be set")]
    Missing(&'static str),
}

impl Default for Settings {
    fn default() -> Self {
        Self { pipeline: Pipeline::default(), time_zone: Tz::UTC, api_key: None, admin_api_key: None, allowed_origins: Vec::new() }
    }
}

impl Settings {
    /// The stage order and time zone that counters follow.
    pub fn counter_rules(&self) -> CounterRules {
        CounterRules { pipeline: self.pipeline.clone(), time_zone: self.time_zone }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let pipeline = match lookup("PIPELINE_STAGES").filter(|s| !s.trim().is_empty()) {
            Some(spec) => Pipeline::parse(&spec)?,
            None => Pipeline::default(),
        };
        let time_zone = match lookup("REPORTING_TIMEZONE").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
            Some(name) => name.parse::<Tz>().map_err(|_| ConfigError::TimeZone(name))?,
            None => Tz::UTC,
        };
        let key = |name| lookup(name).map(|k| k.trim().to_string()).filter(|k| !k.is_empty() && k != PLACEHOLDER_KEY);
        let allowed_origins = lookup("ALLOWED_ORIGINS")
            .map(|s| s.split(',').map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect())
            .unwrap_or_default();
        Ok(Self { pipeline, time_zone, api_key: key("API_KEY"), admin_api_key: key("ADMIN_API_KEY"), allowed_origins })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_when_unset() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.pipeline, Pipeline::default());
        assert_eq!(s.time_zone, Tz::UTC);
        assert!(s.api_key.is_none() && s.admin_api_key.is_none() && s.allowed_origins.is_empty());
    }

    #[test]
    fn changeme_turns_a_key_off() {
        let s = settings(&[("API_KEY", "changeme"), ("ADMIN_API_KEY", "s3cret-admin")]).unwrap();
        assert!(s.api_key.is_none());
        assert_eq!(s.admin_api_key.as_deref(), Some("s3cret-admin"));
    }

    #[test]
    fn reads_stages_zone_and_origins() {
        let s = settings(&[
            ("PIPELINE_STAGES", "A, B"),
            ("REPORTING_TIMEZONE", "Europe/Berlin"),
            ("ALLOWED_ORIGINS", "https://a.test/, https://b.test"),
        ])
        .unwrap();
        assert_eq!(s.pipeline.names(), ["A", "B"]);
        assert_eq!(s.time_zone, chrono_tz::Europe::Berlin);
        assert_eq!(s.allowed_origins, ["https://a.test", "https://b.test"]);
    }

    #[test]
    fn refuses_bad_zone() {
        assert!(matches!(settings(&[("REPORTING_TIMEZONE", "Mars/Base")]), Err(ConfigError::TimeZone(_))));
    }
}
