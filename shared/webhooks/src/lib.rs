//! # leadpipe-webhooks
//!
//! The pure part of Leadpipe's integrations: everything that decides *what* to send, *how it is signed* and
//! *when to retry*, with no HTTP client, store or async runtime. A delivery worker, the stream consumer and the
//! `/api/webhooks` handlers (elsewhere) call into it.
//!
//! Layout, in the order a lead change flows through it:
//!
//! - [`event`]: [`event_for`] turns a lead's (before, after) states, as a DynamoDB stream record carries them,
//!   into at most one [`Event`] (`lead.created`, `lead.stage_changed`, `lead.deleted`), with a message id that
//!   is stable across retries and replays.
//! - [`webhook`]: the stored [`Webhook`] configuration and [`dispatch`], which decides which webhooks an event
//!   triggers and renders each one's body ([`Dispatch`]).
//! - [`formats`]: the bodies: Leadpipe's own event JSON ([`formats::standard`]) and conversions for Meta CAPI,
//!   GA4 Measurement Protocol and TikTok Events API, with each platform's PII normalisation and hashing
//!   ([`formats::normalize`]) and the stage → platform event name mapping ([`formats::EventNames`]).
//! - [`money`]: the value, currency and order id a lead event carries ([`LeadMoney`]), from the lead's counted
//!   orders only, exact (never through float arithmetic).
//! - [`signing`]: Standard Webhooks signatures ([`SignedHeaders`]), secrets ([`Secret`], `whsec_…`) and a
//!   [`Verifier`] for receivers and tests.
//! - [`retry`]: at-least-once delivery: a [`Delivery`]'s state machine and retry schedule, and
//!   [`EndpointHealth`], which says when to disable a failing webhook and why.
//! - [`store`]: the [`WebhookStore`] trait the SQLite and DynamoDB adapters implement, and [`delivery_id`],
//!   which makes enqueueing a change idempotent.
//! - [`config`]: validating a `POST /api/webhooks` body into a [`WebhookSpec`], with errors as
//!   `leadpipe_core::ValidationError`.
//!
//! Each boundary has one error type: [`EventError`], [`SecretError`], [`VerifyError`], and `ValidationError`
//! for configuration. Everything takes `now` (and, for jitter, a `fastrand::Rng`) as an argument, so every
//! decision is reproducible in tests.
//!
//! Wiring it up, in short: on each stream record, `event_for(old, new, now)` → `dispatch(&webhooks, &event)` →
//! store a `Delivery::new(id, dispatch, now)` per result; the worker takes due deliveries, sends
//! `delivery.payload` with `SignedHeaders::new(&[&webhook.secret], &delivery.message_id, now, body)`, then
//! records the outcome with `Delivery::record_attempt` and `EndpointHealth::record`, disabling the webhook
//! (`Webhook::disable`) and abandoning its pending deliveries when told to.
#![warn(missing_docs)]

pub mod config;
pub mod event;
pub mod formats;
pub mod money;
pub mod retry;
pub mod signing;
pub mod store;
pub mod webhook;

pub use config::WebhookSpec;
pub use event::{event_for, Event, EventError, EventType};
pub use formats::{EventNames, Format};
pub use money::LeadMoney;
pub use retry::{
    AttemptOutcome, Delivery, DeliveryState, DisablePolicy, DisableReason, EndpointHealth, Next,
    OutcomeClass, RetryPolicy,
};
pub use signing::{ReceivedHeaders, Secret, SecretError, SignedHeaders, Verifier, VerifyError};
pub use store::{
    delivery_id, DeliveryPage, DeliveryQuery, DeliveryQueue, StoredWebhook, WebhookStore,
    MAX_WEBHOOKS,
};
pub use webhook::{dispatch, Dispatch, Webhook};
