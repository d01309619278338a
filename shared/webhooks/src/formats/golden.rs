//! Golden payloads: one fixed lead moved from New to Paid, rendered in every format and compared in full.
//!
//! The hashes are literals computed outside this code (`printf %s 'john.doe@gmail.com' | sha256sum`, …), so a
//! normalisation or hashing bug cannot agree with itself. Meta's own published examples are checked in
//! [`super::normalize`]'s tests.

use std::path::PathBuf;

use leadpipe_core::domain::Email;
use serde_json::{json, Map, Value};

use super::{payload, Format};
use crate::event::tests::{at, lead};
use crate::event::{event_for, Event};
use crate::money::tests::{money, order as order_at};
use crate::webhook::tests::hook;
use crate::EventType;

const LEAD_ID: &str = "0b9a3c2e-6a51-4f4e-9d47-2f0c3f1f6a10";
/// The message id of (lead, version 2, lead.stage_changed); frozen in `event`'s tests too.
const MESSAGE_ID: &str = "msg_7b1af699-2161-8117-8d92-b55e99c4a951";
/// 2026-03-02T11:00:00Z, when the lead entered Paid.
const EVENT_TIME: i64 = 1_772_449_200;

// sha256 of the normalised values, computed with sha256sum.
/// `john.doe@gmail.com` (Meta, TikTok: trimmed and lower-cased).
const EMAIL_META: &str = "375320dd9ae7ed408002f3768e16cb5f28c861062fd50dff9a3bff62e9dce4ef";
/// `johndoe@gmail.com` (Google: Gmail dots removed).
const EMAIL_GOOGLE: &str = "06a240d11cc201676da976f7b49341181fd180da37cbe40a77432c0a366c80c3";
/// `16505551234` (Meta: digits with country code).
const PHONE_META: &str = "6069d14bf122fdfd931dc7beb58e5dfbba395b1faf05bdcd42d12358d63d8599";
/// `+16505551234` (Google, TikTok: E.164).
const PHONE_E164: &str = "a2996076d3ad4af5dc818b908b3d8e354f26ededf7df0e0aa6ac354143805ee0";
/// `john`.
const FIRST: &str = "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a";
/// `oneil` (from `O'Neil`: punctuation removed).
const LAST: &str = "67a42a846e98e3c1a96cd6ba14883a5ea05990cd93964ce8b832aa9497ca785c";
/// The lead id, `0b9a3c2e-6a51-4f4e-9d47-2f0c3f1f6a10`.
const EXTERNAL_ID: &str = "a66990c4ce38d37053b6c6e67e4075125e35f54890fbd902d3706baefe8f8430";

const IP: &str = "203.0.113.7";
const UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15";
const FBC: &str = "fb.1.1772359200000.IwAR2xTestClickId";
const FBP: &str = "fb.1.1772359100000.1098115397";
const TTCLID: &str = "E.C.P.v3TestTtclid";

fn the_event() -> Event {
    let mut before = lead("New", 1);
    before.email = Some(Email::parse("John.Doe@Gmail.com ").unwrap());
    before.text.phone = Some("+1 (650) 555-1234".into());
    before.text.first_name = Some("John".into());
    before.text.last_name = Some("O'Neil".into());
    before.text.ip_address = Some(IP.into());
    before.text.user_agent = Some(UA.into());
    before.text.referrer = Some("https://www.tiktok.com/".into());
    before.text.domain = Some("example.com".into());
    before.custom_data = json!({
        "gclid": "Cj0KCQiA-test-gclid",
        "fbc": FBC,
        "fbp": FBP,
        "ttclid": TTCLID,
        "page_url": "https://example.com/apply",
        // What a landing page (perhaps with the browser key) put in custom data: never read as money.
        "value": 99.5,
        "currency": "usd",
    })
    .as_object()
    .cloned()
    .unwrap();
    let mut after = before.clone();
    after.stage = crate::event::tests::stage("Paid");
    after.version = 2;
    // The server postback that moved it to Paid carried the order.
    after.orders = vec![order("A-1001", usd(4999), "2026-03-02T11:00:00Z")];
    event_for(Some(&before), Some(&after), at("2026-03-05T00:00:00Z"))
        .unwrap()
        .unwrap()
}

fn order(
    id: &str,
    value: leadpipe_core::domain::money::Money,
    at_: &str,
) -> leadpipe_core::domain::orders::Order {
    order_at(id, Some(value), at(at_))
}

fn usd(minor: i64) -> leadpipe_core::domain::money::Money {
    money(minor, "USD")
}

fn render(format: Format) -> Value {
    payload(&hook(1, &EventType::ALL, format), &the_event())
        .expect("Paid maps to a conversion in every format")
}

#[test]
fn message_id_is_frozen() {
    assert_eq!(the_event().message_id(), MESSAGE_ID);
}

#[test]
fn standard() {
    let e = the_event();
    assert_eq!(
        render(Format::Standard),
        json!({
            "type": "lead.stage_changed",
            "timestamp": "2026-03-02T11:00:00.000000Z",
            "data": {
                "lead_id": LEAD_ID,
                "version": 2,
                "from_stage": "New",
                "to_stage": "Paid",
                // The lead as leadpipe-core serialises it (that crate's own tests own its shape).
                "lead": serde_json::to_value(&e.lead).unwrap(),
                "value": "49.99",
                "currency": "USD",
                "order_id": "A-1001",
                "revenue": [{"currency": "USD", "value": "49.99", "minor": 4999}],
            }
        })
    );
}

#[test]
fn meta_capi() {
    assert_eq!(
        render(Format::MetaCapi),
        json!({
            "data": [{
                "event_name": "Purchase",
                "event_time": EVENT_TIME,
                "event_id": MESSAGE_ID,
                "action_source": "website",
                "event_source_url": "https://example.com/apply",
                "user_data": {
                    "em": EMAIL_META,
                    "ph": PHONE_META,
                    "fn": FIRST,
                    "ln": LAST,
                    "external_id": EXTERNAL_ID,
                    "client_ip_address": IP,
                    "client_user_agent": UA,
                    "fbc": FBC,
                    "fbp": FBP,
                },
                "custom_data": {"lead_stage": "Paid", "currency": "USD", "value": 49.99, "order_id": "A-1001"},
            }]
        })
    );
}

#[test]
fn ga4() {
    assert_eq!(
        render(Format::Ga4),
        json!({
            "client_id": LEAD_ID,
            "user_id": LEAD_ID,
            "timestamp_micros": EVENT_TIME * 1_000_000,
            "events": [{
                "name": "purchase",
                "params": {"lead_stage": "Paid", "currency": "USD", "value": 49.99, "transaction_id": "A-1001"},
            }],
            "user_data": {
                "sha256_email_address": [EMAIL_GOOGLE],
                "sha256_phone_number": [PHONE_E164],
                "address": [{"sha256_first_name": FIRST, "sha256_last_name": LAST}],
            }
        })
    );
}

#[test]
fn tiktok() {
    assert_eq!(
        render(Format::TikTok),
        json!({
            "event_source": "web",
            "event_source_id": "CPIXEL123",
            "data": [{
                "event": "Purchase",
                "event_time": EVENT_TIME,
                "event_id": MESSAGE_ID,
                "user": {
                    "email": EMAIL_META,
                    "phone": PHONE_E164,
                    "external_id": EXTERNAL_ID,
                    "ip": IP,
                    "user_agent": UA,
                    "ttclid": TTCLID,
                },
                "properties": {"currency": "USD", "value": 49.99, "order_id": "A-1001"},
                "page": {"url": "https://example.com/apply", "referrer": "https://www.tiktok.com/"},
            }]
        })
    );
}

#[test]
fn ga_client_id_comes_from_the_ga_cookie_when_there_is_one() {
    let mut e = the_event();
    e.lead
        .custom_data
        .insert("_ga".into(), json!("GA1.1.1234567890.1772359000"));
    e.lead
        .custom_data
        .insert("ga_session_id".into(), json!("1772359000"));
    let body = payload(&hook(1, &EventType::ALL, Format::Ga4), &e).unwrap();
    assert_eq!(body["client_id"], "1234567890.1772359000");
    assert_eq!(body["events"][0]["params"]["session_id"], "1772359000");
}

#[test]
fn unknown_personal_data_is_left_out_not_hashed_empty() {
    let mut e = the_event();
    e.lead.email = None;
    e.lead.text = Default::default();
    e.lead.custom_data.clear();
    e.lead.orders.clear();
    // A national phone number cannot be normalised without a country code, so it is dropped.
    e.lead.text.phone = Some("(650) 555-1234".into());
    let meta = payload(&hook(1, &EventType::ALL, Format::MetaCapi), &e).unwrap();
    assert_eq!(
        meta["data"][0]["user_data"],
        json!({"external_id": EXTERNAL_ID})
    );
    assert_eq!(
        meta["data"][0]["custom_data"],
        json!({"lead_stage": "Paid"})
    );
    assert!(meta["data"][0].get("event_source_url").is_none());
    let ga = payload(&hook(1, &EventType::ALL, Format::Ga4), &e).unwrap();
    assert!(ga.get("user_data").is_none());
    let tt = payload(&hook(1, &EventType::ALL, Format::TikTok), &e).unwrap();
    assert_eq!(tt["data"][0]["user"], json!({"external_id": EXTERNAL_ID}));
    assert!(tt["data"][0].get("page").is_none());
}

#[test]
fn lead_created_in_new_is_a_lead_conversion() {
    let e = event_for(None, Some(&lead("New", 1)), at("2026-03-05T00:00:00Z"))
        .unwrap()
        .unwrap();
    let name = |f| payload(&hook(1, &EventType::ALL, f), &e).unwrap();
    assert_eq!(name(Format::MetaCapi)["data"][0]["event_name"], "Lead");
    assert_eq!(name(Format::Ga4)["events"][0]["name"], "generate_lead");
    assert!(
        name(Format::Ga4)["events"][0]["params"]
            .get("transaction_id")
            .is_none(),
        "only purchases carry one"
    );
    assert_eq!(name(Format::TikTok)["data"][0]["event"], "Lead");
    assert_eq!(name(Format::Standard)["data"]["from_stage"], Value::Null);
}

// ---------------------------------------------------------------------------------------------------------------
// Checked-in golden files: `tests/fixtures/webhooks/<format>.json` holds, per case, the exact body each format
// sends. The comparison is on the pretty-printed text, byte for byte, so any change to a body (a key added,
// removed or renamed, a number written differently) fails until the file is updated on purpose. To regenerate
// after a deliberate change: `UPDATE_GOLDEN=1 cargo test -p leadpipe-webhooks golden`, then review the diff.

fn fixture_path(format: Format) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/webhooks")
        .join(format!("{}.json", format.as_str()))
}

/// Renders every case in `format` and compares the result with its golden file.
fn check_fixture(format: Format, cases: &[(&str, Event)]) {
    let mut rendered = Map::new();
    for (name, event) in cases {
        let body = payload(&hook(1, &EventType::ALL, format), event).unwrap_or(Value::Null);
        rendered.insert((*name).to_string(), body);
    }
    let text = serde_json::to_string_pretty(&Value::Object(rendered)).expect("JSON") + "\n";
    let path = fixture_path(format);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("fixture dir");
        std::fs::write(&path, &text).expect("write golden file");
        return;
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if golden != text {
        panic!(
            "{} differs from what {format} renders now:\n{text}",
            path.display()
        );
    }
}

/// The golden lead without any money: no orders, and no `value`/`currency` in its custom data.
fn event_without_money() -> Event {
    let mut e = the_event();
    e.lead.custom_data.remove("value");
    e.lead.custom_data.remove("currency");
    e.lead.orders.clear();
    e
}

/// The golden lead's `lead.created` (into New, version 1), without money.
fn created_without_money() -> Event {
    let mut after = event_without_money().lead;
    after.stage = crate::event::tests::stage("New");
    after.version = 1;
    event_for(None, Some(&after), at("2026-03-05T00:00:00Z"))
        .unwrap()
        .unwrap()
}

/// The golden lead's move to Paid (`lead.stage_changed`, version 2) with these orders.
fn paid_with(orders: Vec<leadpipe_core::domain::orders::Order>) -> Event {
    let mut e = event_without_money();
    e.lead.orders = orders;
    e
}

fn cases() -> Vec<(&'static str, Event)> {
    let mut removed = order("A-1001", usd(4999), "2026-03-02T10:00:00Z");
    removed.removed_at = Some(at("2026-03-02T10:30:00Z"));
    let mut kept_apart = order("A-1002", usd(0), "2026-03-02T10:40:00Z");
    kept_apart.value = None;
    let mut created = created_without_money();
    created.lead.orders = vec![order("A-1001", usd(4999), "2026-03-01T10:00:00Z")];
    vec![
        ("no_orders", event_without_money()),
        ("no_orders_created", created_without_money()),
        // USD 49.99, one order.
        (
            "usd",
            paid_with(vec![order("A-1001", usd(4999), "2026-03-02T11:00:00Z")]),
        ),
        // JPY has no decimals: 1500 yen is the integer 1500.
        (
            "jpy",
            paid_with(vec![order(
                "JP-7",
                money(1500, "JPY"),
                "2026-03-02T11:00:00Z",
            )]),
        ),
        // BHD has three: 1234 fils is 1.234.
        (
            "bhd",
            paid_with(vec![order(
                "BH-3",
                money(1234, "BHD"),
                "2026-03-02T11:00:00Z",
            )]),
        ),
        // 49.99 then a refund of 10.00: 39.99, named by the sale, not the refund.
        (
            "refund",
            paid_with(vec![
                order("A-1001", usd(4999), "2026-03-02T10:00:00Z"),
                order("A-1001-R", usd(-1000), "2026-03-02T11:00:00Z"),
            ]),
        ),
        // Refunded in full: worth 0.00, still a value (not absent).
        (
            "full_refund",
            paid_with(vec![
                order("A-1001", usd(4999), "2026-03-02T10:00:00Z"),
                order("A-1001-R", usd(-4999), "2026-03-02T11:00:00Z"),
            ]),
        ),
        // Refunds beyond the orders: the standard format says -5.00, platforms get 0.
        (
            "net_refund",
            paid_with(vec![
                order("A-1001", usd(500), "2026-03-02T10:00:00Z"),
                order("A-1001-R", usd(-1000), "2026-03-02T11:00:00Z"),
            ]),
        ),
        // EUR earlier, USD latest: the value is the USD sum; EUR is listed in revenue, not added in.
        (
            "mixed_currencies",
            paid_with(vec![
                order("E-1", money(1200, "EUR"), "2026-03-01T10:00:00Z"),
                order("A-1001", usd(4999), "2026-03-02T10:00:00Z"),
                order("A-1002", usd(1001), "2026-03-02T11:00:00Z"),
            ]),
        ),
        // A postback without order_id: Leadpipe's id, made unique across leads for the platforms.
        (
            "generated_order_id",
            paid_with(vec![order("auto-2", usd(4999), "2026-03-02T11:00:00Z")]),
        ),
        // Only a removed and a kept-apart order: no money, the same bodies as no orders at all.
        (
            "removed_and_kept_apart",
            paid_with(vec![removed, kept_apart]),
        ),
        // A lead created with its order (the New stage's Lead conversion carries it too).
        ("created_with_order", created),
    ]
}

/// The exact request body (what is signed and sent) `format` renders for `event`.
fn wire(format: Format, event: &Event) -> String {
    let dispatched = crate::webhook::dispatch(&[hook(1, &EventType::ALL, format)], event);
    assert_eq!(dispatched.len(), 1, "{format}");
    dispatched[0].body.clone()
}

fn case(name: &str) -> Event {
    cases()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, e)| e)
        .unwrap_or_else(|| panic!("no case {name}"))
}

#[test]
fn values_are_written_exactly_on_the_wire() {
    // Literal text, independent of the golden files: JPY an integer, BHD three decimals, USD two.
    for (name, value, currency, order_id) in [
        ("usd", "49.99", "USD", "A-1001"),
        ("jpy", "1500", "JPY", "JP-7"),
        ("bhd", "1.234", "BHD", "BH-3"),
        ("refund", "39.99", "USD", "A-1001"),
        ("full_refund", "0", "USD", "A-1001"),
        ("net_refund", "0", "USD", "A-1001"),
        ("mixed_currencies", "60", "USD", "A-1002"),
    ] {
        let e = case(name);
        let meta = wire(Format::MetaCapi, &e);
        assert!(
            meta.contains(&format!(
                r#""custom_data":{{"currency":"{currency}","lead_stage":"Paid","order_id":"{order_id}","value":{value}}}"#
            )),
            "{name}: {meta}"
        );
        let ga4 = wire(Format::Ga4, &e);
        assert!(
            ga4.contains(&format!(
                r#""currency":"{currency}","lead_stage":"Paid","transaction_id":"{order_id}","value":{value}}}"#
            )),
            "{name}: {ga4}"
        );
        let tiktok = wire(Format::TikTok, &e);
        assert!(
            tiktok.contains(&format!(
                r#""properties":{{"currency":"{currency}","order_id":"{order_id}","value":{value}}}"#
            )),
            "{name}: {tiktok}"
        );
    }
    let standard = wire(Format::Standard, &case("bhd"));
    assert!(
        standard.contains(r#""currency":"BHD","#)
            && standard.contains(r#""revenue":[{"currency":"BHD","minor":1234,"value":"1.234"}]"#)
            && standard.contains(r#""value":"1.234""#),
        "{standard}"
    );
    let standard = wire(Format::Standard, &case("net_refund"));
    assert!(standard.contains(r#""value":"-5.00""#), "{standard}");
    let standard = wire(Format::Standard, &case("mixed_currencies"));
    assert!(
        standard.contains(
            r#""revenue":[{"currency":"EUR","minor":1200,"value":"12.00"},{"currency":"USD","minor":6000,"value":"60.00"}]"#
        ),
        "{standard}"
    );
}

#[test]
fn no_counted_order_is_the_same_body_as_no_order() {
    for format in [Format::MetaCapi, Format::Ga4, Format::TikTok] {
        assert_eq!(
            wire(format, &case("removed_and_kept_apart")),
            wire(format, &case("no_orders")),
            "{format}"
        );
    }
    let standard = payload(
        &hook(1, &EventType::ALL, Format::Standard),
        &case("removed_and_kept_apart"),
    )
    .unwrap();
    for key in ["value", "currency", "order_id", "revenue"] {
        assert!(standard["data"].get(key).is_none(), "{key}");
    }
}

#[test]
fn custom_data_value_is_never_money() {
    // The golden lead's custom data says 99.5 usd; without orders, nothing is sent.
    let mut e = the_event();
    e.lead.orders.clear();
    for format in [Format::MetaCapi, Format::Ga4, Format::TikTok] {
        let body = wire(format, &e);
        assert!(
            !body.contains("99.5") && !body.contains(r#""value""#),
            "{format}: {body}"
        );
    }
    // With orders, the order's 49.99 is sent, never the custom data's 99.5.
    let body = wire(Format::MetaCapi, &the_event());
    assert!(
        body.contains(r#""value":49.99"#) && !body.contains("99.5"),
        "{body}"
    );
}

#[test]
fn deletions_carry_no_money() {
    let e = case("usd");
    let deleted = event_for(Some(&e.lead), None, at("2026-03-05T00:00:00Z"))
        .unwrap()
        .unwrap();
    assert_eq!(deleted.money(), None);
    let body = payload(&hook(1, &EventType::ALL, Format::Standard), &deleted).unwrap();
    assert!(body["data"].get("value").is_none());
    assert_eq!(
        body["data"]["lead"]["orders"][0]["order_id"], "A-1001",
        "the orders stay on the lead"
    );
}

#[test]
fn golden_file_standard() {
    check_fixture(Format::Standard, &cases());
}

#[test]
fn golden_file_meta_capi() {
    check_fixture(Format::MetaCapi, &cases());
}

#[test]
fn golden_file_ga4() {
    check_fixture(Format::Ga4, &cases());
}

#[test]
fn golden_file_tiktok() {
    check_fixture(Format::TikTok, &cases());
}

// ---------------------------------------------------------------------------------------------------------------
// Browser-key safety: money on events only ever comes from server-key postbacks (or admins). These go through
// leadpipe-core's own merge, as the ingest path does, then the event builder and every format.

mod browser_key {
    use leadpipe_core::domain::merge::{apply_postback, new_lead, Access};
    use leadpipe_core::domain::{Lead, Pipeline, Postback};
    use uuid::Uuid;

    use super::*;

    const LEAD: &str = "0b9a3c2e-6a51-4f4e-9d47-2f0c3f1f6a10";

    fn pb(body: Value) -> Postback {
        Postback::parse(body.to_string().as_bytes(), &Pipeline::default(), None)
            .expect("a valid postback")
            .postback
    }

    fn browser() -> Access {
        Access::Public {
            max_stage: Pipeline::default()
                .stage("Application Submitted")
                .expect("a default stage"),
        }
    }

    /// Everything a browser can try: an order, and money in custom data.
    fn browser_money(stage: &str) -> Value {
        json!({
            "email": "buyer@example.com",
            "stage": stage,
            "value": 99999.99,
            "currency": "USD",
            "order_id": "A-1001",
            "custom_data": {"value": "88888.88", "currency": "USD", "revenue": 77777}
        })
    }

    fn bodies(event: &Event) -> Vec<(Format, String)> {
        Format::ALL
            .into_iter()
            .map(|f| (f, wire(f, event)))
            .collect()
    }

    fn assert_no_browser_money(event: &Event) {
        for (format, body) in bodies(event) {
            for sent in ["99999", "88888", "77777"] {
                if format == Format::Standard && sent != "99999" {
                    // The standard format carries the lead as stored, custom data included (as text a
                    // receiver can read, never as the event's value).
                    continue;
                }
                assert!(!body.contains(sent), "{format} carries {sent}: {body}");
            }
        }
    }

    #[test]
    fn a_lead_the_browser_created_carries_no_value() {
        let applied = new_lead(
            &pb(browser_money("Application Submitted")),
            &Pipeline::default(),
            Uuid::parse_str(LEAD).unwrap(),
            at("2026-03-02T11:00:00Z"),
            &browser(),
        );
        assert!(applied.lead.orders.is_empty(), "core ignores browser money");
        assert_eq!(
            applied.lead.custom_data["value"], "88888.88",
            "custom data did take the browser's keys: the formats must not read them"
        );
        let event = event_for(None, Some(&applied.lead), at("2026-03-05T00:00:00Z"))
            .unwrap()
            .unwrap();
        assert_eq!(event.money(), None);
        assert_no_browser_money(&event);
        let meta: Value = serde_json::from_str(&wire(Format::MetaCapi, &event)).unwrap();
        assert_eq!(
            meta["data"][0]["custom_data"],
            json!({"lead_stage": "Application Submitted"}),
            "no value, currency or order_id at all"
        );
        let standard: Value = serde_json::from_str(&wire(Format::Standard, &event)).unwrap();
        for key in ["value", "currency", "order_id", "revenue"] {
            assert!(standard["data"].get(key).is_none(), "{key}");
        }
    }

    #[test]
    fn a_browser_postback_cannot_change_a_server_order() {
        // The server key recorded A-1001 at 49.99 on Form Started.
        let server = new_lead(
            &pb(
                json!({"email": "buyer@example.com", "stage": "Form Started",
                       "value": "49.99", "currency": "USD", "order_id": "A-1001"}),
            ),
            &Pipeline::default(),
            Uuid::parse_str(LEAD).unwrap(),
            at("2026-03-02T10:00:00Z"),
            &Access::Full,
        )
        .lead;
        // The browser moves it on, and tries to replace the order and add another.
        let moved = apply_postback(
            &server,
            &pb(browser_money("Application Submitted")),
            &Pipeline::default(),
            at("2026-03-02T11:00:00Z"),
            &browser(),
        );
        assert!(moved.moved);
        assert_eq!(
            moved.lead.orders, server.orders,
            "core ignores browser money"
        );
        assert_eq!(moved.lead.custom_data["value"], "88888.88");
        let event: Event = event_for(Some(&server), Some(&moved.lead), at("2026-03-05T00:00:00Z"))
            .unwrap()
            .unwrap();
        assert_eq!(event.event_type, EventType::LeadStageChanged);
        let money = event.money().expect("the server's order");
        assert_eq!(
            (money.value.to_decimal(), money.order_id.as_str()),
            ("49.99".into(), "A-1001")
        );
        assert_no_browser_money(&event);
        for (format, body) in bodies(&event) {
            let expected = match format {
                Format::Standard => r#""value":"49.99""#,
                _ => r#""value":49.99"#,
            };
            assert!(body.contains(expected), "{format}: {body}");
        }
    }

    #[test]
    fn the_server_key_does_set_money() {
        // The same postback with the server key: the order is taken (so the tests above test the key).
        let lead: Lead = new_lead(
            &pb(browser_money("Paid")),
            &Pipeline::default(),
            Uuid::parse_str(LEAD).unwrap(),
            at("2026-03-02T11:00:00Z"),
            &Access::Full,
        )
        .lead;
        let event = event_for(None, Some(&lead), at("2026-03-05T00:00:00Z"))
            .unwrap()
            .unwrap();
        assert!(wire(Format::MetaCapi, &event).contains(r#""value":99999.99"#));
        // Custom data's own "value" is still not money, even from the server.
        assert!(!wire(Format::MetaCapi, &event).contains("88888"));
    }
}
