//! Settings read from the environment, once, at start-up.

use crate::domain::audit::MIN_RETENTION_DAYS;
use crate::domain::counters::CounterRules;
use crate::domain::money::Currency;
use crate::domain::stage::{Pipeline, PipelineError, Stage};
use crate::domain::ReportingZone;

/// The placeholder key value that, like an unset key, turns a key check off (for local use).
pub const PLACEHOLDER_KEY: &str = "changeme";

/// Everything configurable about Leadpipe's behaviour.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stage order (`PIPELINE_STAGES`).
    pub pipeline: Pipeline,
    /// Time zone for day-based analytics and date filters (`REPORTING_TIMEZONE`, default UTC).
    pub time_zone: ReportingZone,
    /// Server key (`API_KEY`): postbacks with full power, from landing pages' servers (a secret). `None` = check off.
    pub api_key: Option<String>,
    /// Admin key (`ADMIN_API_KEY`): everything, the dashboard's key. `None` = check off.
    pub admin_api_key: Option<String>,
    /// Browser key (`PUBLIC_API_KEY`, optional): postbacks from public landing pages, restricted (see
    /// [`crate::domain::merge::Access`]). `None` = no browser key.
    pub public_api_key: Option<String>,
    /// The furthest stage the browser key may move a lead to (`PUBLIC_MAX_STAGE`, default `Application Submitted`
    /// when the pipeline has it, else its first stage).
    pub public_max_stage: Stage,
    /// The honeypot field (`HONEYPOT_FIELD`, default `_gotcha`; empty = none): a hidden form field real visitors
    /// never fill; a postback that fills it creates a quarantined lead.
    pub honeypot_field: Option<String>,
    /// New leads per minute from one client address above which new leads are quarantined (`QUARANTINE_IP_RATE`,
    /// default 20; browser key only: a server key posts for many visitors from one address).
    pub quarantine_ip_rate: u32,
    /// Days refused and quarantined postbacks are kept in the postback log (`POSTBACK_LOG_DAYS`, default 30).
    pub postback_log_days: u32,
    /// Origins allowed by CORS (`ALLOWED_ORIGINS`, comma-separated; `*` for any). Empty = same origin only.
    pub allowed_origins: Vec<String>,
    /// A trusted proxy (CloudFront, a local reverse proxy) is in front (`TRUST_FORWARDED_FOR`, `true`/`1`): the
    /// client's address is the one that proxy reports, not the connection's.
    pub trust_forwarded_for: bool,
    /// What is kept of visitors' IP addresses (`IP_ADDRESSES`: `keep`, the default, `truncate` to the network,
    /// or `drop`), applied at ingest to `ip_address` and to the postback log's client address.
    pub ip_addresses: crate::domain::ip_policy::IpPolicy,
    /// The currency every money figure is reported in (`REPORTING_CURRENCY`, ISO 4217, default USD); amounts in
    /// other currencies are converted with the exchange rate of their day.
    pub reporting_currency: Currency,
    /// Per stage, pipeline order: the probability (percent) that a lead in it pays, for the weighted pipeline
    /// value (`STAGE_PROBABILITIES`, e.g. `New=5,Contacted=20,Paid=100`; unnamed stages keep the default, which
    /// rises evenly to 100 % at the last stage).
    pub stage_probabilities: Vec<u8>,
    /// Days audit log entries are kept (`AUDIT_RETENTION_DAYS`, default and least
    /// [`crate::domain::audit::MIN_RETENTION_DAYS`]).
    pub audit_retention_days: u32,
}

/// `PUBLIC_MAX_STAGE` when unset (if the pipeline has it).
pub const DEFAULT_PUBLIC_MAX_STAGE: &str = "Application Submitted";
/// `HONEYPOT_FIELD` when unset.
pub const DEFAULT_HONEYPOT_FIELD: &str = "_gotcha";

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
    /// A variable has a value that cannot be used.
    #[error("{name}: {problem}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// Two keys are equal, so one would grant the other's power.
    #[error("{0} and {1} must differ")]
    SameKeys(&'static str, &'static str),
}

impl Default for Settings {
    fn default() -> Self {
        let pipeline = Pipeline::default();
        Self {
            public_max_stage: default_public_max_stage(&pipeline),
            stage_probabilities: default_probabilities(&pipeline),
            pipeline,
            time_zone: ReportingZone::utc(),
            api_key: None,
            admin_api_key: None,
            public_api_key: None,
            honeypot_field: Some(DEFAULT_HONEYPOT_FIELD.into()),
            quarantine_ip_rate: 20,
            postback_log_days: 30,
            allowed_origins: Vec::new(),
            trust_forwarded_for: false,
            ip_addresses: crate::domain::ip_policy::IpPolicy::Keep,
            reporting_currency: Currency::usd(),
            audit_retention_days: MIN_RETENTION_DAYS,
        }
    }
}

/// Probabilities rising evenly to 100 % at the last stage (`(i + 1) × 100 / n`).
fn default_probabilities(pipeline: &Pipeline) -> Vec<u8> {
    let n = pipeline.stages().len().max(1);
    (1..=n)
        .map(|i| u8::try_from(i * 100 / n).unwrap_or(100))
        .collect()
}

fn default_public_max_stage(pipeline: &Pipeline) -> Stage {
    pipeline
        .stage(DEFAULT_PUBLIC_MAX_STAGE)
        .unwrap_or_else(|_| pipeline.first().clone())
}

impl Settings {
    /// The stage order and time zone that counters follow.
    pub fn counter_rules(&self) -> CounterRules {
        CounterRules {
            pipeline: self.pipeline.clone(),
            time_zone: self.time_zone.clone(),
        }
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
        let time_zone = match lookup("REPORTING_TIMEZONE")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
        {
            Some(name) => ReportingZone::parse(&name).ok_or(ConfigError::TimeZone(name))?,
            None => ReportingZone::utc(),
        };
        let key = |name| {
            lookup(name)
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty() && k != PLACEHOLDER_KEY)
        };
        let allowed_origins = lookup("ALLOWED_ORIGINS")
            .map(|s| {
                s.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let public_max_stage = match lookup("PUBLIC_MAX_STAGE").filter(|s| !s.trim().is_empty()) {
            Some(name) => pipeline.stage(&name).map_err(|e| ConfigError::Invalid {
                name: "PUBLIC_MAX_STAGE",
                problem: e.to_string(),
            })?,
            None => default_public_max_stage(&pipeline),
        };
        let honeypot_field = match lookup("HONEYPOT_FIELD") {
            Some(f) if f.trim().is_empty() => None,
            Some(f) if crate::domain::postback::is_known_field(f.trim()) => {
                return Err(ConfigError::Invalid {
                    name: "HONEYPOT_FIELD",
                    problem: format!("\"{}\" is a postback field", f.trim()),
                })
            }
            Some(f) => Some(f.trim().to_string()),
            None => Some(DEFAULT_HONEYPOT_FIELD.into()),
        };
        let number =
            |name: &'static str, default: u32, min: u32| -> Result<u32, ConfigError> {
                match lookup(name).filter(|s| !s.trim().is_empty()) {
                    None => Ok(default),
                    Some(v) => v.trim().parse::<u32>().ok().filter(|n| *n >= min).ok_or(
                        ConfigError::Invalid {
                            name,
                            problem: format!("must be a whole number of at least {min}"),
                        },
                    ),
                }
            };
        let reporting_currency = match lookup("REPORTING_CURRENCY").filter(|s| !s.trim().is_empty())
        {
            None => Currency::usd(),
            Some(code) => Currency::parse(&code).map_err(|e| ConfigError::Invalid {
                name: "REPORTING_CURRENCY",
                problem: e.to_string(),
            })?,
        };
        let mut stage_probabilities = default_probabilities(&pipeline);
        if let Some(spec) = lookup("STAGE_PROBABILITIES").filter(|s| !s.trim().is_empty()) {
            for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
                let invalid = |problem: String| ConfigError::Invalid {
                    name: "STAGE_PROBABILITIES",
                    problem,
                };
                let (name, pct) = part.rsplit_once('=').ok_or_else(|| {
                    invalid(format!("\"{}\" is not <stage>=<percent>", part.trim()))
                })?;
                let stage = pipeline
                    .stage(name.trim())
                    .map_err(|e| invalid(e.to_string()))?;
                let pct = pct
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| {
                        invalid(format!(
                            "{} must be a whole percent from 0 to 100",
                            stage.as_str()
                        ))
                    })?;
                if let Some(i) = pipeline.index_of(&stage) {
                    stage_probabilities[i] = pct;
                }
            }
        }
        let settings = Self {
            stage_probabilities,
            reporting_currency,
            pipeline,
            time_zone,
            api_key: key("API_KEY"),
            admin_api_key: key("ADMIN_API_KEY"),
            public_api_key: key("PUBLIC_API_KEY"),
            public_max_stage,
            honeypot_field,
            quarantine_ip_rate: number("QUARANTINE_IP_RATE", 20, 1)?,
            postback_log_days: number("POSTBACK_LOG_DAYS", 30, 1)?.min(400),
            audit_retention_days: number(
                "AUDIT_RETENTION_DAYS",
                MIN_RETENTION_DAYS,
                MIN_RETENTION_DAYS,
            )?,
            allowed_origins,
            trust_forwarded_for: match lookup("TRUST_FORWARDED_FOR")
                .map(|v| v.trim().to_ascii_lowercase())
                .as_deref()
            {
                None | Some("" | "0" | "false") => false,
                Some("1" | "true") => true,
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        name: "TRUST_FORWARDED_FOR",
                        problem: "must be true or false".into(),
                    })
                }
            },
            ip_addresses: match crate::domain::ip_policy::IpPolicy::parse(
                lookup("IP_ADDRESSES").as_deref().unwrap_or(""),
            ) {
                Some(policy) => policy,
                None => {
                    return Err(ConfigError::Invalid {
                        name: "IP_ADDRESSES",
                        problem: "must be keep, truncate or drop".into(),
                    })
                }
            },
        };
        settings.check_keys()?;
        Ok(settings)
    }

    /// Every configured key must differ from the others (else one would grant another's power), and the browser
    /// key needs the server key (its continuation tokens are sealed with a secret derived from it).
    pub fn check_keys(&self) -> Result<(), ConfigError> {
        let keys = [
            ("API_KEY", &self.api_key),
            ("ADMIN_API_KEY", &self.admin_api_key),
            ("PUBLIC_API_KEY", &self.public_api_key),
        ];
        for (i, (a, ka)) in keys.iter().enumerate() {
            for (b, kb) in &keys[i + 1..] {
                if ka.is_some() && ka == kb {
                    return Err(ConfigError::SameKeys(a, b));
                }
            }
        }
        if self.public_api_key.is_some() && self.api_key.is_none() {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_API_KEY",
                problem: "needs API_KEY to be set too".into(),
            });
        }
        Ok(())
    }

    /// What a deployed function needs: the server and admin keys set (fail closed).
    pub fn require_keys(&self) -> Result<(), ConfigError> {
        if self.api_key.is_none() {
            return Err(ConfigError::Missing("API_KEY"));
        }
        if self.admin_api_key.is_none() {
            return Err(ConfigError::Missing("ADMIN_API_KEY"));
        }
        Ok(())
    }

    /// Whether every key check is off (local use without keys).
    pub fn open(&self) -> bool {
        self.api_key.is_none() && self.admin_api_key.is_none() && self.public_api_key.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_when_unset() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.pipeline, Pipeline::default());
        assert_eq!(s.time_zone, ReportingZone::utc());
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
        assert_eq!(s.time_zone.name(), "Europe/Berlin");
        assert_eq!(s.allowed_origins, ["https://a.test", "https://b.test"]);
    }

    #[test]
    fn keys_must_differ_and_the_browser_key_needs_the_server_key() {
        assert!(matches!(
            settings(&[("API_KEY", "same-key-1"), ("ADMIN_API_KEY", "same-key-1")]),
            Err(ConfigError::SameKeys(..))
        ));
        assert!(matches!(
            settings(&[("PUBLIC_API_KEY", "pub-key-1")]),
            Err(ConfigError::Invalid { .. })
        ));
        let s = settings(&[
            ("API_KEY", "a-key-1"),
            ("ADMIN_API_KEY", "b-key-1"),
            ("PUBLIC_API_KEY", "c-key-1"),
        ])
        .unwrap();
        assert!(s.require_keys().is_ok());
        assert!(
            settings(&[("API_KEY", "a-key-1")])
                .unwrap()
                .require_keys()
                .is_err(),
            "a deployment needs the admin key too"
        );
    }

    #[test]
    fn ingest_settings() {
        let s = settings(&[
            ("PUBLIC_MAX_STAGE", "paid"),
            ("HONEYPOT_FIELD", "website_url"),
            ("QUARANTINE_IP_RATE", "5"),
        ])
        .unwrap();
        assert_eq!(s.public_max_stage, "Paid");
        assert_eq!(s.honeypot_field.as_deref(), Some("website_url"));
        assert_eq!(s.quarantine_ip_rate, 5);
        assert_eq!(
            settings(&[]).unwrap().public_max_stage,
            "Application Submitted"
        );
        assert!(settings(&[("PUBLIC_MAX_STAGE", "Won")]).is_err());
        assert!(
            settings(&[("HONEYPOT_FIELD", "email")]).is_err(),
            "not a real field"
        );
        assert!(settings(&[("HONEYPOT_FIELD", "")])
            .unwrap()
            .honeypot_field
            .is_none());
        assert!(settings(&[("QUARANTINE_IP_RATE", "0")]).is_err());
    }

    #[test]
    fn refuses_bad_zone() {
        assert!(matches!(
            settings(&[("REPORTING_TIMEZONE", "Mars/Base")]),
            Err(ConfigError::TimeZone(_))
        ));
    }

    #[test]
    fn the_reporting_currency_defaults_to_usd_and_must_be_iso() {
        assert_eq!(settings(&[]).unwrap().reporting_currency.as_str(), "USD");
        assert_eq!(
            settings(&[("REPORTING_CURRENCY", "eur")])
                .unwrap()
                .reporting_currency
                .as_str(),
            "EUR"
        );
        assert!(matches!(
            settings(&[("REPORTING_CURRENCY", "EURO")]),
            Err(ConfigError::Invalid {
                name: "REPORTING_CURRENCY",
                ..
            })
        ));
    }

    #[test]
    fn stage_probabilities_default_to_an_even_rise_and_can_be_set() {
        let s = settings(&[("PIPELINE_STAGES", "A,B,C,D")]).unwrap();
        assert_eq!(s.stage_probabilities, vec![25, 50, 75, 100]);
        let s = settings(&[
            ("PIPELINE_STAGES", "A,B,C,D"),
            ("STAGE_PROBABILITIES", "a=5, C=60"),
        ])
        .unwrap();
        assert_eq!(s.stage_probabilities, vec![5, 50, 60, 100]);
        for bad in ["A=101", "Z=5", "A", "A=x"] {
            assert!(
                settings(&[("PIPELINE_STAGES", "A,B"), ("STAGE_PROBABILITIES", bad)]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn audit_retention_is_at_least_400_days() {
        assert_eq!(settings(&[]).unwrap().audit_retention_days, 400);
        assert_eq!(
            settings(&[("AUDIT_RETENTION_DAYS", "730")])
                .unwrap()
                .audit_retention_days,
            730
        );
        let err = settings(&[("AUDIT_RETENTION_DAYS", "30")]).unwrap_err();
        assert!(err.to_string().contains("at least 400"), "{err}");
    }
}
