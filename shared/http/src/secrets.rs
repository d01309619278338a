//! The keys of a deployed function, read once at start-up.
//!
//! In AWS the keys live in SSM Parameter Store as SecureString parameters; the function's environment holds only
//! their names — `API_KEY_PARAMETER`, `ADMIN_API_KEY_PARAMETER`, `PUBLIC_API_KEY_PARAMETER` (optional) — and one
//! `GetParameters` call with decryption reads them. Where a name is not set, the plain variable (`API_KEY`…) is
//! used instead (local runs, `cargo lambda watch`). Either way the server and admin keys must be set and all keys
//! must differ, or the function refuses to start.

use std::collections::HashMap;

use aws_config::SdkConfig;
use leadpipe_core::config::ConfigError;
use leadpipe_core::Settings;

/// Each key's variable and the variable naming its SSM parameter.
const KEYS: [(&str, &str); 3] =
    [("API_KEY", "API_KEY_PARAMETER"), ("ADMIN_API_KEY", "ADMIN_API_KEY_PARAMETER"), ("PUBLIC_API_KEY", "PUBLIC_API_KEY_PARAMETER")];

/// Settings from the environment with the keys from SSM Parameter Store where their parameters are named; fails
/// unless the server and admin keys are set and all keys differ.
pub async fn settings_with_keys(sdk: &SdkConfig) -> Result<Settings, ConfigError> {
    let names: Vec<(&str, String)> =
        KEYS.iter().filter_map(|(var, param)| std::env::var(param).ok().filter(|n| !n.trim().is_empty()).map(|n| (*var, n))).collect();
    let mut fetched: HashMap<&str, String> = HashMap::new();
    if !names.is_empty() {
        let client = aws_sdk_ssm::Client::new(sdk);
        let out = client
            .get_parameters()
            .set_names(Some(names.iter().map(|(_, n)| n.clone()).collect()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| ConfigError::Invalid {
                name: "API_KEY_PARAMETER",
                problem: format!("cannot read the keys from SSM: {}", aws_sdk_ssm::error::DisplayErrorContext(e)),
            })?;
        if let Some(missing) = out.invalid_parameters().first() {
            return Err(ConfigError::Invalid { name: "API_KEY_PARAMETER", problem: format!("SSM parameter {missing} does not exist") });
        }
        for p in out.parameters() {
            if let (Some(name), Some(value)) = (p.name(), p.value()) {
                if let Some((var, _)) = names.iter().find(|(_, n)| n == name) {
                    fetched.insert(var, value.to_string());
                }
            }
        }
    }
    let settings = Settings::from_lookup(|name| fetched.get(name).cloned().or_else(|| std::env::var(name).ok()))?;
    settings.require_keys()?;
    Ok(settings)
}
