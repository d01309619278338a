//! Keeps `docs/openapi.json` honest: every operation it names answers as documented, every route the code
//! registers is documented, and the served document is the file in the repo.

use std::collections::BTreeSet;

use leadpipe_core::Settings;
use leadpipe_tests::{spawn_app, StoreKind};
use reqwest::Method;
use serde_json::{json, Value};

const DOC: &str = include_str!("../../docs/openapi.json");
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn doc() -> Value {
    serde_json::from_str(DOC).expect("docs/openapi.json is JSON")
}

fn documented_operations() -> BTreeSet<(String, String)> {
    let d = doc();
    d["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .filter(|m| METHODS.contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

/// `(METHOD, path)` of every `.route("/api/…", get(…).delete(…))` registered in the functions and shared crate.
fn registered_operations() -> BTreeSet<(String, String)> {
    let sources = [
        include_str!("../../functions/postback/src/lib.rs"),
        include_str!("../../functions/leads/src/lib.rs"),
        include_str!("../../functions/leads/src/webhooks.rs"),
        include_str!("../../functions/stage/src/lib.rs"),
        include_str!("../../functions/analytics/src/lib.rs"),
        include_str!("../../functions/analytics/src/spend.rs"),
        include_str!("../../shared/http/src/routes.rs"),
    ];
    let mut ops = BTreeSet::new();
    for src in sources {
        for part in src.split(".route(").skip(1) {
            // rustfmt may put the path on the next line.
            let Some(part) = part.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some((path, rest)) = part.split_once('"') else {
                continue;
            };
            if path.contains('*') || path == "/api" {
                continue; // the JSON 404 catch-alls
            }
            let call = &rest[..rest
                .find(")\n")
                .or_else(|| rest.find("))"))
                .unwrap_or(rest.len())];
            for m in METHODS {
                if call.contains(&format!("{m}(")) {
                    ops.insert((m.to_uppercase(), path.to_string()));
                }
            }
        }
    }
    ops
}

#[test]
fn every_registered_route_is_documented_and_vice_versa() {
    let registered = registered_operations();
    assert!(
        registered.len() >= 9,
        "route scan found too little: {registered:?}"
    );
    assert_eq!(registered, documented_operations());
}

#[test]
fn every_operation_documents_its_errors_and_security() {
    let d = doc();
    for (method, path) in documented_operations() {
        let op = &d["paths"][&path][method.to_lowercase()];
        assert!(op["summary"].is_string(), "{method} {path} has no summary");
        assert!(
            op["security"].is_array(),
            "{method} {path} does not state its security"
        );
        let admin = op["security"] == json!([{"adminKey": []}]);
        for code in if admin { vec!["401", "403"] } else { vec![] } {
            assert!(
                op["responses"][code].is_object(),
                "{method} {path} does not document {code}"
            );
        }
        for (code, r) in op["responses"].as_object().unwrap() {
            if code.starts_with('4') || code.starts_with('5') {
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{method} {path} {code}"
                );
            }
        }
    }
    let fields: BTreeSet<&str> = d["components"]["schemas"]["Postback"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for seed_field in leadpipe_tests::SEED_POSTBACK_FIELDS {
        assert!(
            fields.contains(seed_field),
            "postback field {seed_field} is not documented"
        );
    }
}

fn check_against_schema(d: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = match schema["$ref"].as_str() {
        Some(r) => &d["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    };
    if let Some(required) = schema["required"].as_array() {
        for key in required {
            assert!(
                value.get(key.as_str().unwrap()).is_some(),
                "{at}: required key {key} missing in {value}"
            );
        }
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), value.as_object()) {
        for (k, v) in obj {
            let prop = props
                .get(k)
                .unwrap_or_else(|| panic!("{at}: key {k} is not in the documented schema"));
            check_against_schema(d, prop, v, &format!("{at}.{k}"));
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            check_against_schema(d, items, v, &format!("{at}[{i}]"));
        }
    }
}

/// Calls every documented operation on a live server; the status must be one it documents and the body must fit
/// the documented schema. Undocumented methods on documented paths answer 405.
#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let app = spawn_app(StoreKind::Sqlite, Settings::default()).await;
    let served: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, doc(), "the served document is docs/openapi.json");
    let d = doc();
    let example = &d["paths"]["/api/postback"]["post"]["requestBody"]["content"]
        ["application/json"]["examples"]["formStarted"]["value"];
    let created: Value = app
        .client
        .post(app.url("/api/postback"))
        .json(example)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["lead_id"].as_str().unwrap().to_string();
    // DELETE runs last so the other calls see the lead.
    let mut ops: Vec<_> = documented_operations().into_iter().collect();
    ops.sort_by_key(|(m, _)| m == "DELETE");
    for (method, path) in ops {
        let op = &d["paths"][&path][method.to_lowercase()];
        let url = app.url(&path.replace("{id}", &id));
        let mut req = app
            .client
            .request(Method::from_bytes(method.as_bytes()).unwrap(), &url);
        if let Some(ex) = op["requestBody"]["content"]["application/json"]["example"].as_object() {
            req = req.json(ex);
        } else if op["requestBody"].is_object() {
            req = req.json(example);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16().to_string();
        let documented = &op["responses"][&status];
        assert!(
            documented.is_object(),
            "{method} {path} answered {status}, which it does not document"
        );
        let text = resp.text().await.unwrap();
        if let Some(schema) = documented["content"]["application/json"].get("schema") {
            let body: Value = serde_json::from_str(&text).unwrap();
            check_against_schema(&d, schema, &body, &format!("{method} {path}"));
        }
        for other in METHODS
            .iter()
            .filter(|m| d["paths"][&path].get(**m).is_none())
        {
            let s = app
                .client
                .request(
                    Method::from_bytes(other.to_uppercase().as_bytes()).unwrap(),
                    &url,
                )
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(
                s.as_u16(),
                405,
                "{other} {path} is routed but not documented"
            );
        }
    }
}
