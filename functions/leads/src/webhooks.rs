//! `/api/webhooks`: managing webhooks and seeing their deliveries (admin key).
//!
//! - `POST /api/webhooks` — creates a webhook from a body [`WebhookSpec::parse`] validates; 201 with the webhook
//!   and its signing secret (`whsec_…`), the only answer that ever shows it. A deployment keeps at most
//!   [`MAX_WEBHOOKS`]: one more is a 409 `too_many_webhooks`.
//! - `GET /api/webhooks` — every webhook, oldest first, with its endpoint's health; never a secret.
//! - `DELETE /api/webhooks/{id}` — 204; its pending deliveries are never attempted.
//! - `POST /api/webhooks/{id}/enable` — re-enables a (disabled) webhook and resets its health; 200 with it.
//! - `GET /api/webhooks/{id}/deliveries?limit=&after=` — its deliveries, newest first, without their bodies.
//! - `POST /api/webhooks/{id}/deliveries/{delivery_id}/retry` — sets a failed or pending delivery due now
//!   (attempts kept) and queues it; 202 with it. 409 `webhook_disabled` while the webhook is disabled, 409
//!   `conflict` for a delivered one.
//!
//! Ids that are not UUIDs are a 400 naming the parameter (as on `/api/leads/{id}`); unknown ones a 404. The store
//! and the delivery queue come from the [`WebhookServices`] extension the application was built with.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use leadpipe_core::audit_service::ChangedBy;
use leadpipe_core::domain::{AuditAction, Stage};
use leadpipe_core::{ErrorCode, Leadpipe, ValidationError};
use leadpipe_http::{AdminAccess, ApiError, ClientOrigin, JsonBody, QueryParams, WebhookServices};
use leadpipe_webhooks::{
    Delivery, DeliveryQuery, DeliveryState, EndpointHealth, EventNames, EventType, Format,
    OutcomeClass, Secret, StoredWebhook, Webhook, WebhookSpec, MAX_WEBHOOKS,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// Deliveries per page when `limit` is absent.
pub const DEFAULT_DELIVERY_LIMIT: usize = 20;
/// Largest deliveries `limit`.
pub const MAX_DELIVERY_LIMIT: usize = 100;

/// The webhook routes.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/webhooks", get(list).post(create))
        .route("/api/webhooks/{id}", delete(remove))
        .route("/api/webhooks/{id}/enable", post(enable))
        .route("/api/webhooks/{id}/deliveries", get(deliveries))
        .route(
            "/api/webhooks/{id}/deliveries/{delivery_id}/retry",
            post(retry),
        )
}

/// An endpoint's recent record, as shown.
#[derive(Debug, Serialize)]
pub struct HealthView {
    /// The first failed attempt since the last success; `null` while healthy.
    pub failing_since: Option<DateTime<Utc>>,
    /// Failed attempts since the last success.
    pub failures: u32,
    /// The last successful delivery.
    pub last_success_at: Option<DateTime<Utc>>,
}

/// A webhook as the API shows it: everything but its secret.
#[derive(Debug, Serialize)]
pub struct WebhookView {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The subscribed events.
    pub events: Vec<EventType>,
    /// The stage filter; `null` = every stage.
    pub stages: Option<Vec<Stage>>,
    /// The body format.
    pub format: Format,
    /// Stage → platform event name overrides.
    pub event_names: EventNames,
    /// The TikTok pixel code (`tiktok` only).
    pub event_source_id: Option<String>,
    /// Conversion formats only: whether a lead's data needs its `ad_user_data` consent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<leadpipe_webhooks::formats::consent::ConsentRule>,
    /// False once disabled.
    pub enabled: bool,
    /// Why it was disabled; `null` while enabled.
    pub disabled_reason: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// How its endpoint has been doing.
    pub health: HealthView,
}

impl From<&StoredWebhook> for WebhookView {
    fn from(s: &StoredWebhook) -> Self {
        let w = &s.webhook;
        Self {
            id: w.id,
            url: w.url.clone(),
            events: w.events.clone(),
            stages: w.stages.clone(),
            format: w.format,
            event_names: w.event_names.clone(),
            event_source_id: w.event_source_id.clone(),
            consent: w.format.is_conversion().then_some(w.consent),
            enabled: w.enabled,
            disabled_reason: w.disabled_reason.clone(),
            created_at: s.created_at,
            health: HealthView {
                failing_since: s.health.failing_since,
                failures: s.health.failures,
                last_success_at: s.health.last_success_at,
            },
        }
    }
}

/// `POST /api/webhooks` answer: the webhook and, this once, its signing secret.
#[derive(Debug, Serialize)]
pub struct CreatedWebhook {
    /// The Standard Webhooks signing secret (`whsec_…`); no later answer shows it.
    pub secret: String,
    /// The webhook.
    #[serde(flatten)]
    pub webhook: WebhookView,
}

/// `GET /api/webhooks` answer.
#[derive(Debug, Serialize)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<WebhookView>,
}

/// A delivery as listed: its state, not its body.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    /// Its id.
    pub id: Uuid,
    /// The `webhook-id` header, the same on every attempt (receivers dedupe by it).
    pub message_id: String,
    /// What happened.
    pub event_type: EventType,
    /// `pending`, `delivered` or `failed`.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the first attempt was made.
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due; `null` once delivered or failed.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// How the last attempt counted: `success`, `gone`, `transient` or `rejected`.
    pub last_status: Option<OutcomeClass>,
    /// The last HTTP status received.
    pub last_response_code: Option<u16>,
    /// What went wrong last.
    pub last_error: Option<String>,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id,
            message_id: d.message_id.clone(),
            event_type: d.event_type,
            state: d.state,
            attempts: d.attempts,
            created_at: d.created_at,
            first_attempt_at: d.first_attempt_at,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_response_code: d.last_response_code,
            last_error: d.last_error.clone(),
        }
    }
}

/// `GET /api/webhooks/{id}/deliveries` answer.
#[derive(Debug, Serialize)]
pub struct DeliveryList {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `after` for the next page; `null` at the end.
    pub next_after: Option<String>,
}

/// The path's ids, parsed: `{id}` and, on delivery routes, `{delivery_id}`. A value that is not a UUID is a 400
/// naming the parameter.
pub struct WebhookPath {
    /// The webhook id.
    pub id: Uuid,
    /// The delivery id, when the route has one.
    pub delivery_id: Option<Uuid>,
}

impl<S: Send + Sync> FromRequestParts<S> for WebhookPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let invalid = |name: &str, what: &str| {
            ApiError::Invalid(ValidationError::field(
                name,
                format!("{what} must be a UUID"),
            ))
        };
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid("id", "webhook id"))?;
        let find = |name: &str, what: &str| -> Result<Option<Uuid>, ApiError> {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| Uuid::parse_str(v).map_err(|_| invalid(name, what)))
                .transpose()
        };
        let id = find("id", "webhook id")?.ok_or_else(|| invalid("id", "webhook id"))?;
        Ok(Self {
            id,
            delivery_id: find("delivery_id", "delivery id")?,
        })
    }
}

fn webhook_not_found() -> ApiError {
    ApiError::NotFound("no webhook with this id".into())
}

async fn load(services: &WebhookServices, id: Uuid) -> Result<StoredWebhook, ApiError> {
    services
        .store
        .webhook(id)
        .await?
        .ok_or_else(webhook_not_found)
}

/// A URL's scheme and host only (its path and query may hold a token): what the audit log keeps of it.
pub fn url_origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    &url[..end]
}

async fn create(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    services: WebhookServices,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let spec = WebhookSpec::parse(&body, &app.settings.pipeline)?;
    if services.store.webhooks().await?.len() >= MAX_WEBHOOKS {
        return Err(ApiError::Refused {
            code: ErrorCode::TooManyWebhooks,
            message: format!("this deployment already has {MAX_WEBHOOKS} webhooks, the most it keeps; delete one first"),
        });
    }
    let secret = Secret::generate()
        .map_err(|e| ApiError::Internal(format!("cannot generate a webhook secret: {e}")))?;
    let stored = StoredWebhook {
        webhook: Webhook::new(Uuid::new_v4(), spec, secret),
        health: EndpointHealth::default(),
        created_at: Utc::now(),
    };
    services.store.create_webhook(&stored).await?;
    let created = CreatedWebhook {
        secret: stored.webhook.secret.to_whsec(),
        webhook: WebhookView::from(&stored),
    };
    let w = &stored.webhook;
    let summary = json!({"url": url_origin(&w.url), "events": w.events, "format": w.format});
    let by = ChangedBy::new(actor, origin.client_ip);
    app.audit(&by, AuditAction::WebhookCreated, &w.id.to_string(), summary)
        .await;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(_: AdminAccess, services: WebhookServices) -> Result<Json<WebhookList>, ApiError> {
    let webhooks = services.store.webhooks().await?;
    Ok(Json(WebhookList {
        webhooks: webhooks.iter().map(WebhookView::from).collect(),
    }))
}

async fn remove(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    services: WebhookServices,
    path: WebhookPath,
) -> Result<StatusCode, ApiError> {
    if services.store.delete_webhook(path.id).await? {
        let by = ChangedBy::new(actor, origin.client_ip);
        app.audit(
            &by,
            AuditAction::WebhookDeleted,
            &path.id.to_string(),
            json!({}),
        )
        .await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(webhook_not_found())
    }
}

async fn enable(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    services: WebhookServices,
    path: WebhookPath,
) -> Result<Json<WebhookView>, ApiError> {
    let mut stored = load(&services, path.id).await?;
    let was_enabled = stored.webhook.enabled;
    stored.webhook.enable();
    stored.health = EndpointHealth::default();
    services.store.save_webhook(&stored).await?;
    // Deliveries left pending while it was disabled (disabling abandons them, but a change may have raced it) are
    // due again: hand the newest page of them to the queue.
    let page = services
        .store
        .deliveries(&DeliveryQuery {
            webhook_id: path.id,
            limit: MAX_DELIVERY_LIMIT,
            after: None,
        })
        .await?;
    let pending: Vec<Delivery> = page
        .deliveries
        .into_iter()
        .filter(|d| d.state == DeliveryState::Pending)
        .collect();
    if !pending.is_empty() {
        services.queue.schedule(&pending).await?;
    }
    let summary =
        json!({"enabled_before": was_enabled, "enabled": true, "rescheduled": pending.len()});
    let by = ChangedBy::new(actor, origin.client_ip);
    app.audit(
        &by,
        AuditAction::WebhookEnabled,
        &path.id.to_string(),
        summary,
    )
    .await;
    Ok(Json(WebhookView::from(&stored)))
}

/// Reads `limit` and `after` of a deliveries listing.
pub fn parse_delivery_query(
    webhook_id: Uuid,
    params: &[(String, String)],
) -> Result<DeliveryQuery, ValidationError> {
    let mut q = DeliveryQuery {
        webhook_id,
        limit: DEFAULT_DELIVERY_LIMIT,
        after: None,
    };
    for (name, value) in params {
        match name.as_str() {
            "limit" => {
                q.limit = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_DELIVERY_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ValidationError::field(
                            "limit",
                            format!("limit must be a whole number from 1 to {MAX_DELIVERY_LIMIT}"),
                        )
                    })?
            }
            "after" if value.is_empty() => q.after = None,
            "after" => {
                let bad = || {
                    ValidationError::field(
                        "after",
                        "after is not a next_after value this API returned",
                    )
                };
                let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| bad())?;
                q.after = Some(String::from_utf8(bytes).map_err(|_| bad())?);
            }
            other => {
                return Err(ValidationError::new(
                    ErrorCode::UnknownParameter,
                    format!(
                        "unknown query parameter \"{}\"; allowed: limit, after",
                        other.chars().take(64).collect::<String>()
                    ),
                )
                .at(other))
            }
        }
    }
    Ok(q)
}

async fn deliveries(
    _: AdminAccess,
    services: WebhookServices,
    path: WebhookPath,
    QueryParams(params): QueryParams,
) -> Result<Json<DeliveryList>, ApiError> {
    let query = parse_delivery_query(path.id, &params)?;
    load(&services, path.id).await?;
    let page = services.store.deliveries(&query).await?;
    Ok(Json(DeliveryList {
        deliveries: page.deliveries.iter().map(DeliveryView::from).collect(),
        next_after: page.next_after.map(|k| URL_SAFE_NO_PAD.encode(k)),
    }))
}

async fn retry(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    services: WebhookServices,
    path: WebhookPath,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let stored = load(&services, path.id).await?;
    let delivery_id = path
        .delivery_id
        .ok_or_else(|| ApiError::NotFound("no delivery with this id".into()))?;
    let mut delivery = services
        .store
        .delivery(path.id, delivery_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no delivery with this id".into()))?;
    if !stored.webhook.enabled {
        return Err(ApiError::Refused {
            code: ErrorCode::WebhookDisabled,
            message: "this webhook is disabled: enable it (POST /api/webhooks/{id}/enable) before retrying its deliveries".into(),
        });
    }
    if delivery.state == DeliveryState::Delivered {
        return Err(ApiError::Conflict(
            "this delivery was delivered; there is nothing to retry".into(),
        ));
    }
    let state_before = delivery.state;
    delivery.state = DeliveryState::Pending;
    delivery.next_attempt_at = Some(Utc::now());
    services.store.save_delivery(&delivery).await?;
    services
        .queue
        .schedule(std::slice::from_ref(&delivery))
        .await?;
    let summary =
        json!({"delivery_id": delivery.id, "state_before": state_before, "state": delivery.state});
    let by = ChangedBy::new(actor, origin.client_ip);
    app.audit(
        &by,
        AuditAction::WebhookRetried,
        &path.id.to_string(),
        summary,
    )
    .await;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(&delivery))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn delivery_query_defaults_and_bounds() {
        let id = Uuid::from_u128(7);
        let q = parse_delivery_query(id, &[]).unwrap();
        assert_eq!(
            (q.webhook_id, q.limit, q.after),
            (id, DEFAULT_DELIVERY_LIMIT, None)
        );
        assert_eq!(
            parse_delivery_query(id, &params(&[("limit", "100")]))
                .unwrap()
                .limit,
            100
        );
        for bad in ["0", "101", "x", "-1"] {
            assert_eq!(
                parse_delivery_query(id, &params(&[("limit", bad)]))
                    .unwrap_err()
                    .field
                    .as_deref(),
                Some("limit"),
                "{bad}"
            );
        }
        let e = parse_delivery_query(id, &params(&[("page", "2")])).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::UnknownParameter, Some("page"))
        );
    }

    #[test]
    fn after_round_trips_and_garbage_is_refused() {
        let id = Uuid::from_u128(7);
        let key = "2026-03-01T00:00:00.000000Z#0000";
        let q =
            parse_delivery_query(id, &params(&[("after", &URL_SAFE_NO_PAD.encode(key))])).unwrap();
        assert_eq!(q.after.as_deref(), Some(key));
        assert_eq!(
            parse_delivery_query(id, &params(&[("after", "***")]))
                .unwrap_err()
                .field
                .as_deref(),
            Some("after")
        );
        assert_eq!(
            parse_delivery_query(id, &params(&[("after", "")]))
                .unwrap()
                .after,
            None
        );
    }
}
