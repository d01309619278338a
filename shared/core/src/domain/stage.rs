//! The ordered, configurable pipeline of stages, and the [`Stage`] type only a pipeline hands out.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The stage order used when `PIPELINE_STAGES` is not set.
pub const DEFAULT_STAGES: &[&str] = &[
    "New",
    "Form Started",
    "Application Submitted",
    "Paid",
    "Completed",
];

/// Longest accepted stage name.
const MAX_STAGE_NAME: usize = 64;

/// A stage name in its canonical spelling.
///
/// Client input becomes a `Stage` only through [`Pipeline::stage`], so a `Stage` built from a request always
/// names a stage of the configured pipeline. Stored leads deserialise their stages as they were written (trusted
/// data), which may name a stage since removed from `PIPELINE_STAGES`; [`Pipeline::index_of`] then says `None`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Stage(String);

impl Stage {
    /// The canonical name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Stage {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Stage {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl AsRef<str> for Stage {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The pipeline: stage names in order, matched case-insensitively, stored in their canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pipeline {
    stages: Vec<Stage>,
}

/// Why a `PIPELINE_STAGES` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PipelineError {
    /// No stage at all.
    #[error("PIPELINE_STAGES lists no stage")]
    Empty,
    /// A name appears twice.
    #[error("PIPELINE_STAGES names \"{0}\" twice (names match case-insensitively)")]
    Duplicate(String),
    /// A name is too long or has reserved characters.
    #[error(
        "stage name \"{0}\" is invalid: 1 to 64 characters, no '#', '>', '|' or control characters"
    )]
    InvalidName(String),
}

/// A stage name that is not in the pipeline.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("unknown stage \"{given}\"; valid stages in order: {}", valid.join(", "))]
pub struct UnknownStage {
    /// What the client sent (at most 64 characters of it).
    pub given: String,
    /// The pipeline's stages, in order.
    pub valid: Vec<String>,
}

impl Pipeline {
    /// Parses a comma-separated list of stage names (blank entries are ignored).
    pub fn parse(spec: &str) -> Result<Self, PipelineError> {
        Self::from_names(spec.split(',').map(str::trim).filter(|s| !s.is_empty()))
    }

    fn from_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<Self, PipelineError> {
        let mut stages: Vec<Stage> = Vec::new();
        for name in names {
            let valid = name.chars().count() <= MAX_STAGE_NAME
                && !name
                    .chars()
                    .any(|c| c == '#' || c == '>' || c == '|' || c.is_control());
            if !valid {
                return Err(PipelineError::InvalidName(name.to_string()));
            }
            if stages
                .iter()
                .any(|s| s.0.to_lowercase() == name.to_lowercase())
            {
                return Err(PipelineError::Duplicate(name.to_string()));
            }
            stages.push(Stage(name.to_string()));
        }
        if stages.is_empty() {
            return Err(PipelineError::Empty);
        }
        Ok(Self { stages })
    }

    /// The stages in pipeline order.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The stage names in pipeline order (for messages and documents).
    pub fn names(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.0.clone()).collect()
    }

    /// The stage a new lead starts in when none is given.
    pub fn first(&self) -> &Stage {
        &self.stages[0]
    }

    /// Position of a stage, or `None` for a stored stage no longer in the pipeline.
    pub fn index_of(&self, stage: &Stage) -> Option<usize> {
        self.stages.iter().position(|s| s == stage)
    }

    /// Resolves a client-supplied name (any case, surrounding blanks ignored) to the pipeline's stage.
    pub fn stage(&self, given: &str) -> Result<Stage, UnknownStage> {
        let wanted = given.trim().to_lowercase();
        self.stages
            .iter()
            .find(|s| s.0.to_lowercase() == wanted)
            .cloned()
            .ok_or_else(|| UnknownStage {
                given: given.chars().take(MAX_STAGE_NAME).collect(),
                valid: self.names(),
            })
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::from_names(DEFAULT_STAGES.iter().copied()).expect("the default stages are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_order_is_the_documented_one() {
        assert_eq!(Pipeline::default().names(), DEFAULT_STAGES);
        assert_eq!(Pipeline::default().first(), "New");
    }

    #[test]
    fn parse_trims_and_skips_blanks() {
        let p = Pipeline::parse(" Lead , Call,, Won ").unwrap();
        assert_eq!(p.names(), ["Lead", "Call", "Won"]);
    }

    #[test]
    fn parse_refuses_empty_duplicates_and_bad_names() {
        assert_eq!(Pipeline::parse(" , "), Err(PipelineError::Empty));
        assert_eq!(
            Pipeline::parse("A,b,a"),
            Err(PipelineError::Duplicate("a".into()))
        );
        assert!(matches!(
            Pipeline::parse("A#1"),
            Err(PipelineError::InvalidName(_))
        ));
        assert!(matches!(
            Pipeline::parse("A>B"),
            Err(PipelineError::InvalidName(_))
        ));
        assert!(matches!(
            Pipeline::parse("A|B"),
            Err(PipelineError::InvalidName(_))
        ));
    }

    #[test]
    fn stage_matches_case_insensitively() {
        let p = Pipeline::default();
        assert_eq!(p.stage("  form started ").unwrap(), "Form Started");
        assert_eq!(p.stage("PAID").unwrap(), "Paid");
        let err = p.stage("Won").unwrap_err();
        assert_eq!(err.valid, DEFAULT_STAGES);
        assert!(err
            .to_string()
            .contains("New, Form Started, Application Submitted, Paid, Completed"));
    }

    #[test]
    fn index_of_follows_order() {
        let p = Pipeline::default();
        assert_eq!(p.index_of(&p.stage("new").unwrap()), Some(0));
        assert_eq!(p.index_of(&p.stage("completed").unwrap()), Some(4));
        let legacy: Stage = serde_json::from_str("\"Legacy\"").unwrap();
        assert_eq!(
            p.index_of(&legacy),
            None,
            "a stored stage no longer in the pipeline"
        );
    }
}
