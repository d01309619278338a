//! An admin's changes to a lead's orders (admin key):
//!
//! - `POST /api/leads/{id}/orders` with `{"value": "49.99", "currency": "USD", "order_id": "A-1"}` — adds an
//!   order (or replaces the one with that `order_id`); without `order_id` it gets `admin-<version>`.
//! - `PUT /api/leads/{id}/orders/{order_id}` with `{"value": …, "currency": …}` — sets that order's amount
//!   (restoring it if it was removed).
//! - `DELETE /api/leads/{id}/orders/{order_id}` — removes it: it stays on the lead, marked removed, and counts
//!   nowhere.
//!
//! Each answers `{"lead": …}`; an order's earlier amounts are kept in its `changes`. `value` is in major units,
//! a JSON number or decimal text, exact to the currency's decimals (a negative value is a refund).

use axum::extract::{Path, State};
use axum::routing::{post, put};
use axum::{Json, Router};
use leadpipe_core::audit_service::ChangedBy;
use leadpipe_core::domain::money::{parse_amount, Currency, Money};
use leadpipe_core::domain::orders::{OrderEdit, MAX_ORDER_ID_CHARS};
use leadpipe_core::domain::{AuditAction, Lead};
use leadpipe_core::{ErrorCode, Leadpipe, ValidationError};
use leadpipe_http::{ApiError, ClientOrigin, JsonBody, LeadIdPath, MemberAccess};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

/// The order routes.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/leads/{id}/orders", post(add_order))
        .route(
            "/api/leads/{id}/orders/{order_id}",
            put(set_order).delete(remove_order),
        )
}

/// The answer of every order route.
#[derive(Serialize)]
pub struct OrderChanged {
    /// The lead after the change.
    pub lead: Lead,
}

/// Reads `{"value", "currency"}` and, when `with_id`, an optional `order_id`; anything else is a 400 naming the
/// field.
pub fn parse_order_body(
    body: &[u8],
    with_id: bool,
) -> Result<(Option<String>, Money), ValidationError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ValidationError::body(
            ErrorCode::InvalidJson,
            format!("body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(ValidationError::body(
            ErrorCode::InvalidJson,
            "body must be a JSON object like {\"value\": \"49.99\", \"currency\": \"USD\"}",
        ));
    };
    let allowed: &[&str] = if with_id {
        &["value", "currency", "order_id"]
    } else {
        &["value", "currency"]
    };
    if let Some(other) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        let message = format!("only {} may be sent", allowed.join(", "));
        return Err(ValidationError::new(ErrorCode::UnknownField, message).at(other));
    }
    let currency = match obj.get("currency") {
        Some(Value::String(s)) => {
            Currency::parse(s).map_err(|e| ValidationError::field("currency", e.to_string()))?
        }
        _ => {
            return Err(ValidationError::field(
                "currency",
                "currency is required (ISO 4217, e.g. USD)",
            ))
        }
    };
    let raw = match obj.get("value") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(ValidationError::field(
                "value",
                "value is required: a number in major units, e.g. \"49.99\"",
            ))
        }
    };
    let money =
        parse_amount(&raw, currency).map_err(|e| ValidationError::field("value", e.to_string()))?;
    let order_id = match obj.get("order_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(order_id(s)?),
        Some(_) => {
            return Err(ValidationError::field(
                "order_id",
                "order_id must be a string",
            ))
        }
    };
    Ok((order_id, money))
}

fn order_id(raw: &str) -> Result<String, ValidationError> {
    let id = raw.trim();
    if id.is_empty()
        || raw.chars().count() > MAX_ORDER_ID_CHARS
        || raw.chars().any(char::is_control)
    {
        return Err(ValidationError::field(
            "order_id",
            format!("order_id must be 1 to {MAX_ORDER_ID_CHARS} characters, not blank, without control characters"),
        ));
    }
    Ok(id.to_string())
}

/// The audit summary of an order change: the order's id and, when known, its amount before and after.
pub fn order_summary(before: Option<&Lead>, after: &Lead, order_id: &str) -> Value {
    let value = |lead: Option<&Lead>| {
        lead.and_then(|l| l.orders.iter().find(|o| o.order_id == order_id))
            .and_then(|o| o.counted())
            .map(|m| format!("{} {}", m.to_decimal(), m.currency.as_str()))
    };
    json!({"order_id": order_id, "before": value(before), "after": value(Some(after))})
}

/// Records an order change in the audit log.
async fn audit_order(
    app: &Leadpipe,
    by: ChangedBy,
    action: AuditAction,
    before: Option<&Lead>,
    lead: &Lead,
    order_id: &str,
) {
    let summary = order_summary(before, lead, order_id);
    app.audit(&by, action, &lead.id.to_string(), summary).await;
}

async fn add_order(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    LeadIdPath(id): LeadIdPath,
    JsonBody(body): JsonBody,
) -> Result<Json<OrderChanged>, ApiError> {
    let (order_id, value) = parse_order_body(&body, true)?;
    let before = app.store.get(id).await.ok().flatten();
    let lead = app
        .edit_order(
            id,
            OrderEdit::Put {
                order_id: order_id.clone(),
                value,
            },
        )
        .await?;
    let order_id = order_id
        .or_else(|| lead.orders.last().map(|o| o.order_id.clone()))
        .unwrap_or_default();
    let by = ChangedBy::new(actor, origin.client_ip);
    audit_order(
        &app,
        by,
        AuditAction::OrderAdded,
        before.as_ref(),
        &lead,
        &order_id,
    )
    .await;
    Ok(Json(OrderChanged { lead }))
}

/// The lead id and order id of an order path.
fn order_path(raw: (String, String)) -> Result<(Uuid, String), ApiError> {
    let id = Uuid::parse_str(&raw.0)
        .map_err(|_| ApiError::Invalid(ValidationError::field("id", "lead id must be a UUID")))?;
    Ok((id, order_id(&raw.1)?))
}

async fn set_order(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    Path(raw): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Json<OrderChanged>, ApiError> {
    let (id, order_id) = order_path(raw)?;
    let (_, value) = parse_order_body(&body, false)?;
    let before = app.store.get(id).await.ok().flatten();
    let edit = OrderEdit::Put {
        order_id: Some(order_id.clone()),
        value,
    };
    let lead = app.edit_order(id, edit).await?;
    let by = ChangedBy::new(actor, origin.client_ip);
    audit_order(
        &app,
        by,
        AuditAction::OrderChanged,
        before.as_ref(),
        &lead,
        &order_id,
    )
    .await;
    Ok(Json(OrderChanged { lead }))
}

async fn remove_order(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    Path(raw): Path<(String, String)>,
) -> Result<Json<OrderChanged>, ApiError> {
    let (id, order_id) = order_path(raw)?;
    let before = app.store.get(id).await.ok().flatten();
    let edit = OrderEdit::Remove {
        order_id: order_id.clone(),
    };
    let lead = app.edit_order(id, edit).await?;
    let by = ChangedBy::new(actor, origin.client_ip);
    audit_order(
        &app,
        by,
        AuditAction::OrderRemoved,
        before.as_ref(),
        &lead,
        &order_id,
    )
    .await;
    Ok(Json(OrderChanged { lead }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exact_amounts() {
        let (id, m) = parse_order_body(
            br#"{"value": "49.99", "currency": "usd", "order_id": " A-1 "}"#,
            true,
        )
        .unwrap();
        assert_eq!(
            (id.as_deref(), m.minor, m.currency.as_str()),
            (Some("A-1"), 4999, "USD")
        );
        let (_, m) = parse_order_body(br#"{"value": -1500, "currency": "JPY"}"#, false).unwrap();
        assert_eq!(m.minor, -1500);
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let field = |b: &str, with_id| parse_order_body(b.as_bytes(), with_id).unwrap_err().field;
        assert_eq!(
            field(r#"{"value": "1.001", "currency": "USD"}"#, true).as_deref(),
            Some("value")
        );
        assert_eq!(
            field(r#"{"value": "NaN", "currency": "USD"}"#, true).as_deref(),
            Some("value")
        );
        assert_eq!(
            field(r#"{"value": 1e13, "currency": "USD"}"#, true).as_deref(),
            Some("value")
        );
        assert_eq!(
            field(r#"{"value": 1, "currency": "XYZ"}"#, true).as_deref(),
            Some("currency")
        );
        assert_eq!(field(r#"{"value": 1}"#, true).as_deref(), Some("currency"));
        assert_eq!(
            field(r#"{"value": 1, "currency": "USD", "order_id": 5}"#, true).as_deref(),
            Some("order_id")
        );
        assert_eq!(
            field(r#"{"value": 1, "currency": "USD", "order_id": "x"}"#, false).as_deref(),
            Some("order_id")
        );
        assert_eq!(
            parse_order_body(b"[]", true).unwrap_err().code,
            ErrorCode::InvalidJson
        );
    }
}
