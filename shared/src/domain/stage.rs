//! The ordered, configurable pipeline of stages.

use serde::Serialize;

/// The stage order used when `PIPELINE_STAGES` is not set.
pub const DEFAULT_STAGES: &[&str] = &["New", "Form Started", "Application Submitted", "Paid", "Completed"];

/// Longest accepted stage name.
const MAX_STAGE_NAME: usize = 64;

/// The pipeline: stage names in order, matched case-insensitively, stored in their canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pipeline {
    stages: Vec<String>,
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
    #[error("stage name \"{0}\" is invalid: 1 to 64 characters, no '#', '>' or control characters")]
    InvalidName(String),
}

/// A stage name that is not in the pipeline.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown stage \"{given}\"; valid stages in order: {}", valid.join(", "))]
pub struct UnknownStage {
    /// What the client sent.
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
        let mut stages: Vec<String> = Vec::new();
        for name in names {
            let valid = name.chars().count() <= MAX_STAGE_NAME && !name.chars().any(|c| c == '#' || c == '>' || c.is_control());
            if !valid {
                return Err(PipelineError::InvalidName(name.to_string()));
            }
            if stages.iter().any(|s| s.to_lowercase() == name.to_lowercase()) {
                return Err(PipelineError::Duplicate(name.to_string()));
            }
            stages.push(name.to_string());
        }
        if stages.is_empty() {
            return Err(PipelineError::Empty);
        }
        Ok(Self { stages })
    }

    /// The stage names in pipeline order.
    pub fn stages(&self) -> &[String] {
        &self.stages
    }

    /// The stage a new lead starts in when none is given.
    pub fn first(&self) -> &str {
        &self.stages[0]
    }

    /// Position of a canonical stage name, or `None` for a name no longer in the pipeline.
    pub fn index_of(&self, canonical: &str) -> Option<usize> {
        self.stages.iter().position(|s| s == canonical)
    }

    /// Resolves a client-supplied name (any case, surrounding blanks ignored) to its canonical spelling.
    pub fn canonical(&self, given: &str) -> Result<&str, UnknownStage> {
        let wanted = given.trim().to_lowercase();
        self.stages
            .iter()
            .find(|s| s.to_lowercase() == wanted)
            .map(String::as_str)
            .ok_or_else(|| UnknownStage { given: given.to_string(), valid: self.stages.clone() })
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
        assert_eq!(Pipeline::default().stages(), DEFAULT_STAGES);
        assert_eq!(Pipeline::default().first(), "New");
    }

    #[test]
    fn parse_trims_and_skips_blanks() {
        let p = Pipeline::parse(" Lead , Call,, Won ").unwrap();
        assert_eq!(p.stages(), ["Lead", "Call", "Won"]);
    }

    #[test]
    fn parse_refuses_empty_duplicates_and_bad_names() {
        assert_eq!(Pipeline::parse(" , "), Err(PipelineError::Empty));
        assert_eq!(Pipeline::parse("A,b,a"), Err(PipelineError::Duplicate("a".into())));
        assert!(matches!(Pipeline::parse("A#1"), Err(PipelineError::InvalidName(_))));
        assert!(matches!(Pipeline::parse("A>B"), Err(PipelineError::InvalidName(_))));
    }

    #[test]
    fn canonical_matches_case_insensitively() {
        let p = Pipeline::default();
        assert_eq!(p.canonical("  form started ").unwrap(), "Form Started");
        assert_eq!(p.canonical("PAID").unwrap(), "Paid");
        let err = p.canonical("Won").unwrap_err();
        assert_eq!(err.valid, DEFAULT_STAGES);
        assert!(err.to_string().contains("New, Form Started, Application Submitted, Paid, Completed"));
    }

    #[test]
    fn index_of_follows_order() {
        let p = Pipeline::default();
        assert_eq!(p.index_of("New"), Some(0));
        assert_eq!(p.index_of("Completed"), Some(4));
        assert_eq!(p.index_of("paid"), None, "index_of takes canonical names only");
    }
}
