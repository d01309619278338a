//! The keys of a deployed function, read once at start-up.
//!
//! In AWS the function's environment holds only where the keys are, never the keys:
//! - `API_KEY_PARAMETER`, `ADMIN_API_KEY_PARAMETER` and `PUBLIC_API_KEY_PARAMETER`: SSM Parameter Store
//!   SecureString parameters, read with one `GetParameters` call with decryption. A missing server or admin
//!   parameter fails start-up; a missing public parameter means there is no browser key.
//! - or `KEYS_SECRET_ARN`: one Secrets Manager secret whose value is JSON
//!   `{"API_KEY": …, "ADMIN_API_KEY": …, "PUBLIC_API_KEY": … (optional)}`.
//!
//! Where neither is set, the plain variables (`API_KEY`…) are used (local runs, `cargo lambda watch`). Either way
//! the server and admin keys must be set and all keys must differ, or the function refuses to start. Errors name
//! the parameter or field, never a value. Throttled reads (many cold starts at once) are retried with a short
//! backoff, all within [`KEY_STORE_BUDGET`]: Lambda's init phase has 10 s, so a key store that does not answer
//! fails the cold start clearly (and Lambda retries it) instead of timing the init out.

use std::collections::HashMap;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use leadpipe_core::config::ConfigError;
use leadpipe_core::Settings;

/// Each key's variable and the variable naming its SSM parameter.
const KEYS: [(&str, &str); 3] = [
    ("API_KEY", "API_KEY_PARAMETER"),
    ("ADMIN_API_KEY", "ADMIN_API_KEY_PARAMETER"),
    ("PUBLIC_API_KEY", "PUBLIC_API_KEY_PARAMETER"),
];

/// The variable naming the Secrets Manager secret that holds all keys.
pub const KEYS_SECRET_VAR: &str = "KEYS_SECRET_ARN";

/// Attempts per key-store read: SSM allows 40 reads/s per account and region by default, which a burst of cold
/// starts can pass; the SDK's standard retry backs off between attempts (jittered, from
/// [`KEY_STORE_INITIAL_BACKOFF`] up to [`KEY_STORE_MAX_BACKOFF`]).
const KEY_STORE_ATTEMPTS: u32 = 4;
const KEY_STORE_INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const KEY_STORE_MAX_BACKOFF: Duration = Duration::from_millis(800);
/// One attempt (connection included) gives up after this long.
const KEY_STORE_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
const KEY_STORE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The whole read, every attempt and backoff included: about half of Lambda's 10 s init phase.
pub const KEY_STORE_BUDGET: Duration = Duration::from_secs(5);

/// The SDK configuration for reading the keys: bounded retries, short backoff, [`KEY_STORE_BUDGET`] in all.
fn key_store_config(sdk: &SdkConfig) -> SdkConfig {
    sdk.to_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(KEY_STORE_ATTEMPTS)
                .with_initial_backoff(KEY_STORE_INITIAL_BACKOFF)
                .with_max_backoff(KEY_STORE_MAX_BACKOFF),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(KEY_STORE_CONNECT_TIMEOUT)
                .operation_attempt_timeout(KEY_STORE_ATTEMPT_TIMEOUT)
                .operation_timeout(KEY_STORE_BUDGET)
                .build(),
        )
        .build()
}

/// Settings from the environment with the keys from SSM Parameter Store or Secrets Manager where the environment
/// says so; fails unless the server and admin keys are set and all keys differ.
pub async fn settings_with_keys(sdk: &SdkConfig) -> Result<Settings, ConfigError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let parameters: Vec<(&str, String)> = KEYS
        .iter()
        .filter_map(|(var, param)| env(param).map(|n| (*var, n)))
        .collect();
    let secret = env(KEYS_SECRET_VAR);
    let retrying = key_store_config(sdk);
    let fetched = match (secret, parameters.is_empty()) {
        (Some(_), false) => {
            return Err(ConfigError::Invalid {
                name: KEYS_SECRET_VAR,
                problem: "set either KEYS_SECRET_ARN or the *_KEY_PARAMETER variables, not both"
                    .into(),
            })
        }
        (Some(arn), true) => keys_from_secret(&retrying, &arn).await?,
        (None, false) => keys_from_parameters(&retrying, &parameters).await?,
        (None, true) => HashMap::new(),
    };
    let settings = Settings::from_lookup(|name| {
        fetched
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    })?;
    settings.require_keys()?;
    Ok(settings)
}

async fn keys_from_parameters(
    sdk: &SdkConfig,
    parameters: &[(&'static str, String)],
) -> Result<HashMap<&'static str, String>, ConfigError> {
    let out = aws_sdk_ssm::Client::new(sdk)
        .get_parameters()
        .set_names(Some(parameters.iter().map(|(_, n)| n.clone()).collect()))
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| ConfigError::Invalid {
            name: "API_KEY_PARAMETER",
            problem: format!(
                "cannot read the keys from SSM: {}",
                aws_sdk_ssm::error::DisplayErrorContext(e)
            ),
        })?;
    let found: Vec<(String, String)> = out
        .parameters()
        .iter()
        .filter_map(|p| Some((p.name()?.to_string(), p.value()?.to_string())))
        .collect();
    keys_from_found(parameters, &found)
}

/// Matches the parameters SSM returned to the keys they hold: a missing server or admin parameter is an error
/// naming its variable; a missing public one means no browser key.
fn keys_from_found(
    parameters: &[(&'static str, String)],
    found: &[(String, String)],
) -> Result<HashMap<&'static str, String>, ConfigError> {
    let mut keys = HashMap::new();
    for (var, name) in parameters {
        match found.iter().find(|(n, _)| n == name) {
            Some((_, value)) => {
                keys.insert(*var, value.clone());
            }
            None if *var == "PUBLIC_API_KEY" => {}
            None => {
                let param = KEYS
                    .iter()
                    .find(|(v, _)| v == var)
                    .map_or("API_KEY_PARAMETER", |(_, p)| *p);
                return Err(ConfigError::Invalid {
                    name: param,
                    problem: format!("SSM parameter {name} does not exist"),
                });
            }
        }
    }
    Ok(keys)
}

async fn keys_from_secret(
    sdk: &SdkConfig,
    arn: &str,
) -> Result<HashMap<&'static str, String>, ConfigError> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| ConfigError::Invalid {
            name: KEYS_SECRET_VAR,
            problem: format!(
                "cannot read the keys' secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ),
        })?;
    let text = out.secret_string().ok_or(ConfigError::Invalid {
        name: KEYS_SECRET_VAR,
        problem: "the secret has no string value".into(),
    })?;
    keys_from_secret_json(text)
}

/// Reads `{"API_KEY", "ADMIN_API_KEY", "PUBLIC_API_KEY"?}`; errors name the field, never echo the value.
fn keys_from_secret_json(text: &str) -> Result<HashMap<&'static str, String>, ConfigError> {
    let bad = |problem: String| ConfigError::Invalid {
        name: KEYS_SECRET_VAR,
        problem,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| bad("the secret's value is not JSON".into()))?;
    let obj = value
        .as_object()
        .ok_or_else(|| bad("the secret's value is not a JSON object".into()))?;
    let mut keys = HashMap::new();
    for (var, _) in KEYS {
        match obj.get(var) {
            Some(serde_json::Value::String(s)) => {
                keys.insert(var, s.clone());
            }
            None | Some(serde_json::Value::Null) if var == "PUBLIC_API_KEY" => {}
            None | Some(serde_json::Value::Null) => {
                return Err(bad(format!("the secret has no {var} field")))
            }
            Some(_) => return Err(bad(format!("the secret's {var} field is not a string"))),
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(&'static str, String)> {
        vec![
            ("API_KEY", "/lp/api".into()),
            ("ADMIN_API_KEY", "/lp/admin".into()),
            ("PUBLIC_API_KEY", "/lp/public".into()),
        ]
    }

    #[test]
    fn ssm_parameters_map_to_their_keys_and_only_the_public_one_may_be_missing() {
        let found = vec![
            ("/lp/admin".to_string(), "admin-value".to_string()),
            ("/lp/api".to_string(), "api-value".to_string()),
        ];
        let keys = keys_from_found(&params(), &found).unwrap();
        assert_eq!(keys["API_KEY"], "api-value");
        assert_eq!(keys["ADMIN_API_KEY"], "admin-value");
        assert!(!keys.contains_key("PUBLIC_API_KEY"));

        let e = keys_from_found(&params(), &found[..1])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("API_KEY_PARAMETER") && e.contains("/lp/api") && !e.contains("admin-value"),
            "{e}"
        );
    }

    /// A key store that accepts connections and never answers: the read fails within the budget, not after
    /// Lambda's 10 s init phase.
    #[tokio::test]
    async fn a_silent_key_store_fails_within_the_budget() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                open.push(conn);
            }
        });
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(format!("http://{addr}"))
            .credentials_provider(aws_sdk_ssm::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        let started = std::time::Instant::now();
        let e = keys_from_parameters(&key_store_config(&sdk), &params())
            .await
            .unwrap_err()
            .to_string();
        let took = started.elapsed();
        hold.abort();
        assert!(e.contains("cannot read the keys from SSM"), "{e}");
        assert!(
            took <= KEY_STORE_BUDGET + Duration::from_millis(700),
            "took {took:?}"
        );
        // it did retry: more than one attempt's timeout passed
        assert!(took > KEY_STORE_ATTEMPT_TIMEOUT, "took {took:?}");
    }

    #[test]
    fn the_budget_leaves_room_in_lambdas_init_phase() {
        assert!(KEY_STORE_BUDGET <= Duration::from_secs(5));
        assert!(KEY_STORE_ATTEMPT_TIMEOUT * 2 + KEY_STORE_MAX_BACKOFF < KEY_STORE_BUDGET);
    }

    #[test]
    fn the_secret_holds_json_and_errors_never_show_a_value() {
        let keys =
            keys_from_secret_json(r#"{"API_KEY": "a-secret-1", "ADMIN_API_KEY": "a-secret-2"}"#)
                .unwrap();
        assert_eq!(
            (keys["API_KEY"].as_str(), keys["ADMIN_API_KEY"].as_str()),
            ("a-secret-1", "a-secret-2")
        );
        assert!(!keys.contains_key("PUBLIC_API_KEY"));
        for (text, says) in [
            (r#"{"API_KEY": "a-secret-1"}"#, "no ADMIN_API_KEY"),
            (
                r#"{"API_KEY": "a-secret-1", "ADMIN_API_KEY": 7}"#,
                "not a string",
            ),
            ("a-secret-1", "not JSON"),
            (r#"["a-secret-1"]"#, "not a JSON object"),
        ] {
            let e = keys_from_secret_json(text).unwrap_err().to_string();
            assert!(
                e.contains(says) && e.contains("KEYS_SECRET_ARN") && !e.contains("a-secret-1"),
                "{e}"
            );
        }
    }
}
