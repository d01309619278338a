//! What the `/api/webhooks` handlers need beyond the application core: the [`WebhookStore`] and the
//! [`DeliveryQueue`] that retried deliveries are handed to.
//!
//! `Leadpipe` (core) cannot hold them (`leadpipe-webhooks` depends on core), so whoever builds the application
//! layers one [`WebhookServices`] on it as an axum extension, the same store object as the lead store:
//!
//! ```ignore
//! let router = leadpipe_http::app(routes, core, None).layer(axum::Extension(WebhookServices::new(store, queue)));
//! ```
//!
//! `leadpipe serve` passes its local worker's wake-up as the queue, the leads Lambda an SQS queue, and
//! [`PolledQueue`] fits anything that only polls [`WebhookStore::due_deliveries`].

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use leadpipe_core::store::StoreError;
use leadpipe_webhooks::{Delivery, DeliveryQueue, WebhookStore};

use crate::error::ApiError;

/// The webhook store and delivery queue, as the `/api/webhooks` handlers extract them from the request.
#[derive(Clone)]
pub struct WebhookServices {
    /// Webhooks and their deliveries.
    pub store: Arc<dyn WebhookStore>,
    /// Where a delivery set due again (a manual retry, a re-enabled webhook) goes to be attempted.
    pub queue: Arc<dyn DeliveryQueue>,
}

impl WebhookServices {
    /// The services for `store` and `queue`.
    pub fn new(store: Arc<dyn WebhookStore>, queue: Arc<dyn DeliveryQueue>) -> Self {
        Self { store, queue }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebhookServices {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            ApiError::Internal(
                "no WebhookServices extension: the application was built without a webhook store"
                    .into(),
            )
        })
    }
}

/// A queue that schedules nothing: stored deliveries are found by a worker polling
/// [`WebhookStore::due_deliveries`] (at most its poll interval later).
#[derive(Debug, Clone, Copy, Default)]
pub struct PolledQueue;

#[async_trait]
impl DeliveryQueue for PolledQueue {
    async fn schedule(&self, _: &[Delivery]) -> Result<(), StoreError> {
        Ok(())
    }
}
