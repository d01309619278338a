//! The browser key as an attacker would use it, on both stores: every attack from the security review reproduced,
//! and the defence holding. The attacker holds `PUBLIC_API_KEY` (it ships in landing pages) and scripts it.

use axum::http::{Method, StatusCode};
use leadpipe_tests::{
    keyed_settings, on_both_stores, spawn_app, StoreKind, TestApp, ADMIN_KEY, INGEST_KEY,
    PUBLIC_KEY,
};
use serde_json::{json, Value};

async fn post(app: &TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url("/api/postback"))
        .header("x-api-key", key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn admin(app: &TestApp, method: Method, path: &str) -> Value {
    let r = app
        .client
        .request(method, app.url(path))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

async fn lead_by_email(app: &TestApp, email: &str) -> Value {
    app.settle().await;
    let list = admin(app, Method::GET, &format!("/api/leads?search={email}")).await;
    list["leads"]
        .as_array()
        .and_then(|l| l.first())
        .cloned()
        .unwrap_or(Value::Null)
}

/// "Posting the victim's email with another name and phone overwrites the victim's lead" — no longer: stored values
/// are kept, only empty fields fill; `force_stage` cannot move it back; its email cannot be re-pointed.
async fn the_browser_key_cannot_tamper_with_a_lead(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (s, _) =
        post(&app, INGEST_KEY, json!({"email": "victim@corp.com", "first_name": "Vera", "stage": "Paid", "phone": "+1 555 0100"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let attack = json!({"email": "victim@corp.com", "first_name": "Hacked", "phone": "+1-900-EVIL", "company": "Evil Corp",
        "stage": "New", "force_stage": true, "custom_data": {"note": "owned"}});
    let (s, answer) = post(&app, PUBLIC_KEY, attack).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let lead = lead_by_email(&app, "victim@corp.com").await;
    assert_eq!(
        (lead["first_name"].as_str(), lead["phone"].as_str()),
        (Some("Vera"), Some("+1 555 0100")),
        "stored values kept"
    );
    assert_eq!(
        lead["stage"], "Paid",
        "no backward move, force_stage or not"
    );
    assert_eq!(
        lead["company"], "Evil Corp",
        "an empty field may be filled (the rule, stated in the answer)"
    );
    let warned: Vec<&str> = answer["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["field"].as_str().unwrap())
        .collect();
    assert!(
        warned.contains(&"force_stage") && warned.contains(&"*"),
        "{answer}"
    );
    // Re-pointing the lead to another email with its token: the email of a lead that has one never changes.
    let (_, again) = post(
        &app,
        PUBLIC_KEY,
        json!({"token": answer["token"], "email": "attacker@evil.com"}),
    )
    .await;
    assert!(again["token"].is_string());
    assert_eq!(
        lead_by_email(&app, "victim@corp.com").await["id"],
        lead["id"],
        "the victim keeps their email"
    );
    let (_, v) = post(
        &app,
        INGEST_KEY,
        json!({"email": "victim@corp.com", "phone": "+1 555 0199"}),
    )
    .await;
    assert_eq!(
        v["lead_id"], lead["id"],
        "the real person's next postback finds their lead: no duplicate"
    );
}

/// "201 vs 200 (and a 409) tells whether an email exists, and the reply shows its stage" — no longer: the same
/// status and shape for a new and an existing email, no stage, no id.
async fn the_browser_key_learns_nothing(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    post(
        &app,
        INGEST_KEY,
        json!({"email": "known@corp.com", "stage": "Paid"}),
    )
    .await;
    let probe = |email: &str| json!({"email": email, "first_name": "x", "stage": "Form Started"});
    let (s_known, known) = post(&app, PUBLIC_KEY, probe("known@corp.com")).await;
    let (s_new, new) = post(&app, PUBLIC_KEY, probe("nobody@corp.com")).await;
    assert_eq!(
        (s_known, s_new),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&known), ["token", "warnings"]);
    assert_eq!(keys(&known), keys(&new));
    assert_eq!(
        known["warnings"], new["warnings"],
        "the same warnings either way"
    );
    let text = known.to_string();
    assert!(
        !text.contains("Paid") && !text.contains("lead_id"),
        "{text}"
    );
    // Taking another lead's email through a token gives the same answer as any other postback.
    let (_, mine) = post(&app, PUBLIC_KEY, json!({"first_name": "anon"})).await;
    let (s, taken) = post(
        &app,
        PUBLIC_KEY,
        json!({"token": mine["token"], "email": "known@corp.com"}),
    )
    .await;
    let (_, free) = post(
        &app,
        PUBLIC_KEY,
        json!({"token": mine["token"], "phone": "1"}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(keys(&taken), keys(&free));
    assert!(!taken.to_string().contains("already"), "{taken}");
}

/// "2,000 postbacks {stage: Paid, source: google} made Paid conversions 1 → 2,001" — no longer: the browser key
/// stops at PUBLIC_MAX_STAGE, and a client creating leads in a burst gets them quarantined (out of analytics).
async fn a_burst_cannot_poison_the_analytics(kind: StoreKind) {
    let limit: i64 = 5;
    let app = spawn_app(
        kind,
        leadpipe_core::Settings {
            quarantine_ip_rate: limit as u32,
            ..keyed_settings()
        },
    )
    .await;
    post(
        &app,
        INGEST_KEY,
        json!({"email": "real@corp.com", "stage": "Paid", "source": "google"}),
    )
    .await;
    let burst: i64 = 30;
    for _ in 0..burst {
        let (s, v) = post(
            &app,
            PUBLIC_KEY,
            json!({"stage": "Paid", "source": "google"}),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED);
        assert!(
            v["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["field"] == "stage"),
            "{v}"
        );
    }
    app.settle().await;
    let analytics = admin(&app, Method::GET, "/api/analytics").await;
    let paid = analytics["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["stage"] == "Paid")
        .unwrap()
        .clone();
    assert_eq!(
        paid["reached"], 1,
        "only the real lead reached Paid: {paid}"
    );
    // Counted per calendar minute: a burst that straddles a minute's end gets the limit twice.
    let quarantined_n = analytics["quarantined"].as_i64().unwrap();
    assert!(
        (burst - 2 * limit..=burst - limit).contains(&quarantined_n),
        "the burst past {limit} a minute is quarantined: {quarantined_n}"
    );
    assert_eq!(
        analytics["total_leads"].as_i64().unwrap() + quarantined_n,
        1 + burst
    );
    let quarantined = admin(&app, Method::GET, "/api/leads?quarantine=only&limit=200").await;
    assert_eq!(
        quarantined["leads"].as_array().unwrap().len() as i64,
        quarantined_n
    );
    let log = admin(
        &app,
        Method::GET,
        "/api/postbacks?status=quarantined&limit=200",
    )
    .await;
    assert!(log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["reason"] == "ip_rate"));
    // An admin can release a lead.
    let id = quarantined["leads"][0]["id"].as_str().unwrap().to_string();
    let released = admin(&app, Method::POST, &format!("/api/leads/{id}/release")).await;
    assert!(released["lead"]["quarantine"].is_null());
    app.settle().await;
    assert_eq!(
        admin(&app, Method::GET, "/api/analytics").await["quarantined"],
        quarantined_n - 1
    );
}

/// Honeypot and bot user agents quarantine the lead they create, and are not applied to an existing lead.
async fn bots_are_quarantined(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (s, _) = post(
        &app,
        PUBLIC_KEY,
        json!({"email": "bot1@spam.example", "_gotcha": "http://spam.example"}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let r = app
        .client
        .post(app.url("/api/postback"))
        .header("x-api-key", PUBLIC_KEY)
        .header("user-agent", "python-requests/2.31")
        .json(&json!({"email": "bot2@spam.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    post(
        &app,
        INGEST_KEY,
        json!({"email": "person@corp.com", "first_name": ""}),
    )
    .await;
    post(
        &app,
        PUBLIC_KEY,
        json!({"email": "person@corp.com", "first_name": "Bot", "_gotcha": "x"}),
    )
    .await;
    app.settle().await;
    let q = admin(&app, Method::GET, "/api/leads?quarantine=only").await;
    let reasons: Vec<&str> = q["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["quarantine"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons.contains(&"honeypot") && reasons.contains(&"bot_user_agent"));
    assert!(
        lead_by_email(&app, "person@corp.com").await["first_name"].is_null(),
        "the bot's postback was not applied"
    );
    let listed = admin(&app, Method::GET, "/api/leads").await;
    assert_eq!(
        listed["leads"].as_array().unwrap().len(),
        1,
        "the board and All Leads leave quarantined leads out"
    );
}

/// "A 500-character campaign gets a 400 and the lead is lost" — no longer: it is cut, the lead is stored.
async fn an_over_long_field_never_loses_the_lead(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (s, v) = post(
        &app,
        INGEST_KEY,
        json!({"email": "long@corp.com", "campaign": "c".repeat(500)}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["warnings"][0]["code"], "truncated");
    let lead = lead_by_email(&app, "long@corp.com").await;
    assert_eq!(lead["campaign"].as_str().unwrap().len(), 200);
}

/// `navigator.sendBeacon` sends `text/plain` and no headers: the browser key as `?key=` works; no other key does.
async fn send_beacon_with_the_browser_key(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let beacon = |key: &str| {
        app.client
            .post(app.url(&format!("/api/postback?key={key}")))
            .header("content-type", "text/plain;charset=UTF-8")
            .body(r#"{"email": "beacon@corp.com", "stage": "Form Started"}"#)
            .send()
    };
    assert_eq!(
        beacon(PUBLIC_KEY).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    for key in [INGEST_KEY, ADMIN_KEY, "wrong"] {
        assert_eq!(
            beacon(key).await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "?key= takes only the browser key"
        );
    }
    let r = app
        .client
        .get(app.url(&format!("/api/leads?key={ADMIN_KEY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the admin key is never taken from a URL"
    );
    assert!(!lead_by_email(&app, "beacon@corp.com").await.is_null());
    let log = admin(&app, Method::GET, "/api/postbacks?status=rejected").await;
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "each refused beacon is kept: {log}");
    assert!(entries.iter().all(|e| e["reason"] == "unauthorized"
        && e["body"].as_str().unwrap().contains("beacon@corp.com")));
    assert!(
        !log.to_string().contains(INGEST_KEY) && !log.to_string().contains(ADMIN_KEY),
        "never a key in the log"
    );
}

/// Unbounded growth from the browser key: distinct source values past the day's limit count as (other); bodies of
/// 4-byte characters are bounded in bytes; a page of the largest leads stays far under Lambda's 6 MB.
async fn growth_is_bounded(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    for i in 0..130 {
        post(
            &app,
            INGEST_KEY,
            json!({"email": format!("s{i}@corp.com"), "source": format!("source-{i}")}),
        )
        .await;
    }
    app.settle().await;
    let b = admin(
        &app,
        Method::GET,
        "/api/analytics/breakdown?by=source&touch=first",
    )
    .await;
    let rows = b["rows"].as_array().unwrap();
    let top = leadpipe_core::domain::analytics::TOP_ROWS;
    assert!(
        rows.len() <= top + 1,
        "top rows and (other): {}",
        rows.len()
    );
    let other = rows
        .iter()
        .find(|r| r["value"] == "(other)")
        .expect("an (other) row");
    assert_eq!(other["leads"], 130 - top as u64);
    let emoji = "\u{1F600}".repeat(600);
    let mut body = json!({"email": "big@corp.com", "custom_data": {}});
    for f in [
        "first_name",
        "last_name",
        "company",
        "source",
        "campaign",
        "referrer",
        "user_agent",
        "utm_term",
        "utm_content",
    ] {
        body[f] = json!(emoji);
    }
    for k in 0..60 {
        body["custom_data"][format!("k{k}")] = json!(emoji[..400].to_string());
    }
    let (s, _) = post(&app, INGEST_KEY, body).await;
    assert_eq!(s, StatusCode::CREATED);
    let lead = lead_by_email(&app, "big@corp.com").await;
    assert!(
        lead.to_string().len() < 16 * 1024,
        "a stored lead stays under ~14 KB of JSON: {}",
        lead.to_string().len()
    );
    let page = app
        .client
        .get(app.url("/api/leads?limit=200"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert!(page.bytes().await.unwrap().len() < 1024 * 1024);
}

/// A lead toggled back and forth forever keeps a bounded history, and `GET /api/leads/{id}` stays small.
async fn history_is_bounded(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (_, v) = post(
        &app,
        INGEST_KEY,
        json!({"email": "toggle@corp.com", "stage": "Paid"}),
    )
    .await;
    let id = v["lead_id"].as_str().unwrap().to_string();
    for i in 0..240 {
        let stage = if i % 2 == 0 { "New" } else { "Paid" };
        post(
            &app,
            INGEST_KEY,
            json!({"lead_id": id, "stage": stage, "force_stage": true}),
        )
        .await;
    }
    app.settle().await;
    let detail = admin(&app, Method::GET, &format!("/api/leads/{id}")).await;
    assert_eq!(
        detail["history"].as_array().unwrap().len(),
        201,
        "creation and the first 200 changes"
    );
    assert_eq!(detail["lead"]["stage_changes"], 240);
    assert_eq!(
        detail["lead"]["stage"], "Paid",
        "the stage itself is always current"
    );
}

/// Look-alike spellings of one address meet in one lead; invisible and text-direction characters are refused.
async fn look_alike_emails_are_one_lead(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (s, first) = post(&app, INGEST_KEY, json!({"email": "john@exämple.de"})).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    for same in [
        "ｊｏｈｎ@exämple.de",
        "JOHN@EXÄMPLE.DE",
        "john@xn--exmple-cua.de",
    ] {
        let (s, v) = post(&app, INGEST_KEY, json!({"email": same, "phone": "1"})).await;
        assert_eq!(
            (s, v["lead_id"].clone()),
            (StatusCode::OK, first["lead_id"].clone()),
            "{same}"
        );
    }
    for sneaky in [
        "jo\u{FEFF}hn@exämple.de",
        "jo\u{00AD}hn@exämple.de",
        "\u{202E}nhoj@exämple.de",
    ] {
        let (s, v) = post(&app, INGEST_KEY, json!({"email": sneaky})).await;
        assert_eq!(s, StatusCode::CREATED, "stored without the email");
        assert_eq!(v["warnings"][0]["field"], "email");
        assert_ne!(v["lead_id"], first["lead_id"]);
    }
    let (s, v) = post(&app, INGEST_KEY, json!({"email": "j\u{043E}hn@exämple.de"})).await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "a Cyrillic letter is another address"
    );
    assert_ne!(v["lead_id"], first["lead_id"]);
}

/// Garbage without a valid key cannot fill the postback log: each process keeps a few a second; refusals that
/// came with a valid key are all kept.
async fn refusals_without_a_key_cannot_flood_the_log(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let first = chrono::Utc::now().timestamp();
    for i in 0..60 {
        let r = app
            .client
            .post(app.url("/api/postback"))
            .header("x-api-key", "wrong-key")
            .body(format!("junk {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let seconds = chrono::Utc::now().timestamp() - first + 1;
    for i in 0..15 {
        let r = app
            .client
            .post(app.url("/api/postback"))
            .header("x-api-key", INGEST_KEY)
            .body(format!("not json {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    let log = admin(
        &app,
        Method::GET,
        "/api/postbacks?status=rejected&limit=200",
    )
    .await;
    let entries = log["entries"].as_array().unwrap();
    let by_key = |tier: &str| entries.iter().filter(|e| e["key"] == tier).count() as i64;
    let budget = i64::from(leadpipe_core::log_budget::DEFAULT_UNAUTHENTICATED_LOGS_PER_SECOND);
    assert!(by_key("invalid") >= 1, "some are kept, to be seen");
    assert!(
        by_key("invalid") <= budget * seconds,
        "{} wrong-key refusals logged over {seconds} s",
        by_key("invalid")
    );
    assert_eq!(
        by_key("server"),
        15,
        "every refusal with a valid key is kept"
    );
}

/// A hostile page open in the user's browser, against the README's default `leadpipe serve` (keys off): it may
/// post a lead as a landing page would (browser tier), and nothing else.
async fn a_hostile_page_cannot_write_in_keys_off_mode(kind: StoreKind) {
    let app = spawn_app(kind, leadpipe_core::Settings::default()).await;
    let evil = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .header("origin", "https://evil.test")
            .header("content-type", "text/plain")
    };
    let hook = json!({"url": "https://attacker.test/hook", "events": ["lead.created"]}).to_string();
    let r = evil(Method::POST, "/api/webhooks")
        .body(hook.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let r = evil(Method::POST, "/api/import")
        .body("email\nx@evil.test\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .client
        .post(app.url("/api/webhooks"))
        .header("content-type", "text/plain")
        .body(hook)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "no preflight-free admin writes"
    );
    let hooks: Value = app
        .client
        .get(app.url("/api/webhooks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        hooks["webhooks"].as_array().map(Vec::len),
        Some(0),
        "{hooks}"
    );
    let r = evil(Method::POST, "/api/postback")
        .body(json!({"email": "csrf@corp.com", "stage": "Paid"}).to_string())
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "a landing page's postback still lands: {}",
        r.status()
    );
    app.settle().await;
    let list: Value = app
        .client
        .get(app.url("/api/leads?search=csrf@corp.com"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["leads"][0]["stage"], "Application Submitted",
        "browser tier: capped, {list}"
    );
}

/// Valid-looking JSON that serde refuses (a BOM, `1e400`, a lone surrogate) keeps its lead, with warnings.
async fn a_repairable_body_keeps_its_lead(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let body = "\u{feff}{\"email\": \"bom@corp.com\", \"first_name\": \"A\\ud800\", \"form_completion_percent\": 1e400}";
    let r = app
        .client
        .post(app.url("/api/postback"))
        .header("x-api-key", INGEST_KEY)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let answer: Value = r.json().await.unwrap();
    let fields: Vec<&str> = answer["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"body") && fields.contains(&"form_completion_percent"),
        "{answer}"
    );
    let lead = lead_by_email(&app, "bom@corp.com").await;
    assert_eq!(lead["first_name"], "A\u{fffd}");
}

/// The browser key cannot reset a paid lead's form progress, nor fill custom data so the server's is dropped.
async fn the_browser_key_cannot_crowd_out_server_data(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (s, _) = post(
        &app,
        INGEST_KEY,
        json!({"email": "paid@corp.com", "stage": "Paid", "form_completion_percent": 100,
               "form_fields_completed": 12, "form_fields_total": 12}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let junk: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("junk{i}"), json!("x"))).collect();
    let (s, _) = post(
        &app,
        PUBLIC_KEY,
        json!({"email": "paid@corp.com", "form_completion_percent": 0, "form_fields_total": 40,
               "custom_data": junk}),
    )
    .await;
    assert!(s.is_success());
    let server: serde_json::Map<String, Value> = (0..49)
        .map(|i| (format!("crm{i}"), json!(i)))
        .chain([("payment_id".to_string(), json!("pay_42"))])
        .collect();
    let (s, answer) = post(
        &app,
        INGEST_KEY,
        json!({"email": "paid@corp.com", "custom_data": server}),
    )
    .await;
    assert!(s.is_success());
    assert_eq!(
        answer["warnings"],
        json!([]),
        "server data always fits: {answer}"
    );
    let lead = lead_by_email(&app, "paid@corp.com").await;
    assert_eq!(lead["form_completion_percent"], json!(100.0));
    assert_eq!(lead["form_fields_total"], 12);
    assert_eq!(lead["custom_data"]["payment_id"], "pay_42");
}

/// `IP_ADDRESSES=truncate` stores networks only and `drop` no address, in leads (postbacks and imports) and in
/// the postback log's client address; truncating text that is not an address leaves it out with a warning.
async fn ip_addresses_are_kept_as_the_settings_say(kind: StoreKind) {
    use leadpipe_core::domain::ip_policy::IpPolicy;
    for (policy, want_v4, want_v6, want_client) in [
        (
            IpPolicy::Truncate,
            json!("203.0.113.0"),
            json!("2001:db8:85a3::"),
            json!("127.0.0.0"),
        ),
        (IpPolicy::Drop, Value::Null, Value::Null, Value::Null),
    ] {
        let app = spawn_app(
            kind,
            leadpipe_core::Settings {
                ip_addresses: policy,
                ..keyed_settings()
            },
        )
        .await;
        let (s, _) = post(
            &app,
            INGEST_KEY,
            json!({"email": "v4@ip.example", "ip_address": "203.0.113.77"}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = post(
            &app,
            PUBLIC_KEY,
            json!({"email": "v6@ip.example", "ip_address": "2001:db8:85a3:8d3:1319:8a2e:370:7348"}),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED);
        let (s, body) = post(
            &app,
            INGEST_KEY,
            json!({"email": "text@ip.example", "ip_address": "office wifi"}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        if policy == IpPolicy::Truncate {
            assert!(
                body["warnings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w["field"] == "ip_address" && w["code"] == "dropped"),
                "{body}"
            );
        }
        let r = app
            .client
            .post(app.url("/api/import"))
            .header("x-api-key", ADMIN_KEY)
            .header("content-type", "text/csv")
            .body("email,ip_address\nimported@ip.example,198.51.100.23\n")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        // A refused postback (not JSON) keeps the client address in the postback log.
        let r = app
            .client
            .post(app.url("/api/postback"))
            .header("x-api-key", INGEST_KEY)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            lead_by_email(&app, "v4@ip.example").await["ip_address"],
            want_v4,
            "{policy:?}"
        );
        assert_eq!(
            lead_by_email(&app, "v6@ip.example").await["ip_address"],
            want_v6,
            "{policy:?}"
        );
        assert!(lead_by_email(&app, "text@ip.example").await["ip_address"].is_null());
        let imported = lead_by_email(&app, "imported@ip.example").await["ip_address"].clone();
        let want_imported = if policy == IpPolicy::Truncate {
            json!("198.51.100.0")
        } else {
            Value::Null
        };
        assert_eq!(imported, want_imported, "{policy:?}");
        let log = admin(&app, Method::GET, "/api/postbacks").await;
        let entries = log["entries"].as_array().expect("entries");
        assert!(!entries.is_empty(), "{log}");
        for e in entries {
            assert_eq!(e["client_ip"], want_client, "{policy:?}: {e}");
        }
    }
}

on_both_stores!(
    ip_addresses_are_kept_as_the_settings_say,
    refusals_without_a_key_cannot_flood_the_log,
    the_browser_key_cannot_tamper_with_a_lead,
    the_browser_key_learns_nothing,
    a_burst_cannot_poison_the_analytics,
    bots_are_quarantined,
    an_over_long_field_never_loses_the_lead,
    send_beacon_with_the_browser_key,
    growth_is_bounded,
    history_is_bounded,
    look_alike_emails_are_one_lead,
    a_hostile_page_cannot_write_in_keys_off_mode,
    a_repairable_body_keeps_its_lead,
    the_browser_key_cannot_crowd_out_server_data,
);
