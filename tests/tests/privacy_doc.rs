//! docs/PRIVACY.md is held to the code: every test it names exists, every endpoint it names is in the OpenAPI
//! document, and every setting it names is read by the configuration.

const DOC: &str = include_str!("../../docs/PRIVACY.md");
const OPENAPI: &str = include_str!("../../docs/openapi.json");
const CONFIG: &str = include_str!("../../shared/core/src/config.rs");

/// Every `` `word` `` in the text.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Every Rust source file under `dir`, read.
fn sources(dir: &std::path::Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("target") && !path.ends_with("node_modules") {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

#[test]
fn every_test_endpoint_and_setting_privacy_md_names_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut code = String::new();
    for dir in ["tests", "runner", "shared", "functions"] {
        sources(&root.join(dir), &mut code);
    }
    let openapi: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json");
    let (mut tests, mut endpoints, mut settings) = (0, 0, 0);
    for word in quoted(DOC) {
        let is_snake = word.len() > 12
            && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            && word.contains('_');
        if is_snake && word.matches('_').count() >= 4 {
            assert!(
                code.contains(&format!("fn {word}(")),
                "PRIVACY.md names the test `{word}`, which does not exist"
            );
            tests += 1;
        } else if let Some((method, path)) = word
            .split_once(' ')
            .filter(|(m, p)| m.chars().all(|c| c.is_ascii_uppercase()) && p.starts_with("/api/"))
        {
            let path = path.split('?').next().unwrap_or(path);
            assert!(
                openapi["paths"][path].get(method.to_lowercase()).is_some(),
                "PRIVACY.md names `{word}`, which docs/openapi.json does not document"
            );
            endpoints += 1;
        } else if word.len() > 3
            && word.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            && word.contains('_')
        {
            assert!(
                CONFIG.contains(&format!("\"{word}\"")),
                "PRIVACY.md names the setting `{word}`, which config.rs does not read"
            );
            settings += 1;
        }
    }
    assert!(
        tests >= 5 && endpoints >= 1 && settings >= 2,
        "tests {tests}, endpoints {endpoints}, settings {settings}"
    );
}
