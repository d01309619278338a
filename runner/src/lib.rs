//! The local runner's library half: the merged router that `leadpipe serve` (and the HTTP tests) run.

use axum::Router;
use leadpipe_core::Leadpipe;

/// Every route of every function (postback, leads, stage, analytics), merged: the same code the Lambdas run.
pub fn all_routes() -> Router<Leadpipe> {
    postback::router().merge(leads::router()).merge(stage::router()).merge(analytics::router())
}
