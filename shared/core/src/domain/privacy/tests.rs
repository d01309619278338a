use serde_json::json;

use super::*;
use crate::domain::merge::{new_lead, Access};
use crate::domain::{Pipeline, Postback};

fn person() -> Lead {
    let mut pb = Postback {
        email: Some(Email::parse("Ada.Lovelace@Example.com").unwrap()),
        ..Postback::default()
    };
    pb.text.first_name = Some("Ada".into());
    pb.text.last_name = Some("Lovelace".into());
    pb.text.phone = Some("+44 20 7946 0958".into());
    pb.text.ip_address = Some("203.0.113.7".into());
    pb.text.utm_campaign = Some("spring".into());
    pb.text.source = Some("google".into());
    pb.custom_data = Some(serde_json::Map::from_iter([(
        "dob".into(),
        json!("1815-12-10"),
    )]));
    // A fixed id and time: random ones could spell "ada", "1815" or "7946" and fail the checks below.
    let id = Uuid::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888);
    let at = "2026-12-01T10:00:00Z".parse().unwrap();
    new_lead(&pb, &Pipeline::default(), id, at, &Access::Full).lead
}

#[test]
fn a_request_names_someone_and_refuses_what_it_cannot_read() {
    let r =
        ErasureRequest::parse(&json!({"email": " ada@example.com ", "suppress": true})).unwrap();
    assert_eq!(r.email.unwrap().as_str(), "ada@example.com");
    assert!(r.suppress);
    let r = ErasureRequest::parse(&json!({"phone": "+1 (555) 010-9999"})).unwrap();
    assert_eq!(r.phone.unwrap().as_str(), "15550109999");
    assert!(!r.suppress);
    for (body, field) in [
        (json!({}), "body"),
        (json!([]), "body"),
        (json!({"email": "not-an-email"}), "email"),
        (json!({"email": 5}), "email"),
        (json!({"email": "a@example.com", "phone": null}), "phone"),
        (
            json!({"email": "a@example.com", "suppress": null}),
            "suppress",
        ),
        (json!({"phone": "12"}), "phone"),
        (
            json!({"phone": format!("123456{}", ".".repeat(35))}),
            "phone",
        ),
        (json!({"phone": "call me"}), "phone"),
        (json!({"lead_id": "nope"}), "lead_id"),
        (
            json!({"email": "a@example.com", "suppress": "yes"}),
            "suppress",
        ),
        (json!({"email": "a@example.com", "name": "Ada"}), "body"),
    ] {
        assert_eq!(
            ErasureRequest::parse(&body).unwrap_err().field,
            field,
            "{body}"
        );
    }
}

#[test]
fn stripping_removes_the_person_and_keeps_what_counters_and_money_read() {
    let lead = person();
    let stripped = strip_personal(&lead);
    assert!(stripped.email.is_none());
    assert!(stripped.text.first_name.is_none() && stripped.text.last_name.is_none());
    assert!(stripped.text.phone.is_none() && stripped.text.ip_address.is_none());
    assert!(stripped.custom_data.is_empty());
    assert_eq!(stripped.text.utm_campaign, lead.text.utm_campaign);
    assert_eq!(stripped.first_touch, lead.first_touch);
    assert_eq!(
        (stripped.stage.clone(), stripped.created_at),
        (lead.stage.clone(), lead.created_at)
    );
    let text = serde_json::to_string(&stripped).unwrap().to_lowercase();
    for gone in ["ada", "lovelace", "7946", "203.0.113.7", "1815"] {
        assert!(!text.contains(gone), "{gone} left in {text}");
    }
    assert!(!is_stripped(&lead));
    assert!(is_stripped(&stripped));
}

#[test]
fn the_scope_recognises_copies_by_email_phone_name_and_id() {
    let lead = person();
    let request = ErasureRequest::parse(&json!({"email": "ada.lovelace@example.com"})).unwrap();
    let scope = ErasureScope::of(&request, std::slice::from_ref(&lead));
    assert_eq!(scope.lead_ids, vec![lead.id]);
    assert!(scope.matches(r#"{"email":"ADA.LOVELACE@example.com"}"#));
    assert!(scope.matches("phone=+44 20 7946 0958"));
    assert!(scope.matches("tel 442079460958"));
    assert!(scope.matches("Ada Lovelace signed up"));
    assert!(scope.matches(&format!("lead {}", lead.id)));
    assert!(!scope.matches(r#"{"email":"grace@example.com","first_name":"Ada"}"#));
    assert!(ErasureScope::default().is_empty());
}

#[test]
fn suppression_keys_are_keyed_stable_and_hide_the_address() {
    let email = Email::parse("ada@example.com").unwrap();
    let a = suppression_key(b"key one", &email);
    assert_eq!(a, suppression_key(b"key one", &email));
    assert_ne!(a, suppression_key(b"key two", &email));
    assert_ne!(
        a,
        suppression_key(b"key one", &Email::parse("bob@example.com").unwrap())
    );
    assert_eq!(a.len(), 64);
    assert!(!a.contains("ada"));
}
