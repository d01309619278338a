//! Lambda entry point: wires `analytics::router()` into the Lambda runtime (DynamoDB client built once).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    leadpipe_shared::http::run_lambda(analytics::router()).await
}
